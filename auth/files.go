package auth

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces file with data: written to a temporary file beside it with perm,
// synced, then renamed over it, so a reader sees the old content or the new, never a part.
func writeFileAtomic(file string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %v", file, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %v", file, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %v", file, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %v", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %v", file, err)
	}
	if err := os.Rename(name, file); err != nil {
		return fmt.Errorf("writing %s: %v", file, err)
	}
	ok = true
	return nil
}
