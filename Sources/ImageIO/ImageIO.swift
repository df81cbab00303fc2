// ImageIO
//
// PNG and JPEG decoding/encoding through libpng and libjpeg, and image resizing (spec §1.1.2, Appendix D/B18).
