package auth

import (
	"os"
	"syscall"
	"unsafe"
)

// ReadPassword reads one line from f, its line end removed. When f is a terminal, echo is
// off while it is typed, so the password never shows.
func ReadPassword(f *os.File) (string, error) {
	fd := f.Fd()
	var old syscall.Termios
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&old))); errno == 0 {
		quiet := old
		quiet.Lflag &^= syscall.ECHO
		quiet.Lflag |= syscall.ICANON | syscall.ISIG
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&quiet))); errno == 0 {
			defer syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&old)))
		}
	}
	return readLine(f)
}
