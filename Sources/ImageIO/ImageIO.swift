// ImageIO
//
// PNG and JPEG decoding/encoding through libpng and libjpeg, and image resizing (spec §1.1.2, Appendix D/B18).
//
// The one module that touches the image libraries: libpng through its simplified API (errors come back as
// return codes, never as longjmp through Swift frames), libjpeg through the C target CJPEGShim (which keeps
// setjmp/longjmp inside C). Files are always read into memory first, so a missing or unreadable file is
// our own error naming it, and every library failure is rethrown as an `ImageIOError` naming the file.
