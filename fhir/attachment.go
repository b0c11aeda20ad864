package fhir

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// attachment checks what the HL7 validator checks on an Attachment with inline data: the
// stated size must be the size of the decoded data (the data's own Base64 syntax is checked
// as a primitive).
func (c *vctx) attachment(n *node) {
	data, size := n.child("data"), n.child("size")
	if data == nil || size == nil || !data.hasValue || !size.hasValue {
		return
	}
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data.value), ""))
	if err != nil {
		return
	}
	stated, err := strconv.ParseInt(size.value, 10, 64)
	if err != nil || stated == int64(len(b)) {
		return
	}
	c.is.add(n, SeverityError, CodeStructure, fmt.Sprintf("Stated Attachment Size %d does not match actual attachment size %d", stated, len(b)))
}
