// CJPEGShim: JPEG decoding through libjpeg with its error handling kept entirely in C.
//
// libjpeg reports fatal errors by calling `error_exit`, whose only safe non-returning implementation is
// longjmp; a longjmp across Swift frames is undefined behaviour. This shim owns the setjmp/longjmp pair,
// so every libjpeg error surfaces to Swift as a status code plus a message. Only ImageIO imports it,
// and it is the only module that includes jpeglib.h.
#ifndef MASKNET_CJPEGSHIM_H
#define MASKNET_CJPEGSHIM_H

#include <stddef.h>
#include <stdint.h>

/// Outcome of a JPEG call.
typedef enum {
    MASKNET_JPEG_OK = 0,
    /// The stream ended before the image was complete (libjpeg's "Premature end of JPEG file").
    MASKNET_JPEG_TRUNCATED = 1,
    /// libjpeg raised an error or a corrupt-data warning; the message says which.
    MASKNET_JPEG_CORRUPT = 2,
    /// A valid JPEG whose colour space we do not convert (CMYK, YCCK).
    MASKNET_JPEG_UNSUPPORTED = 3,
    /// malloc failed.
    MASKNET_JPEG_OUT_OF_MEMORY = 4
} masknet_jpeg_status;

/// Reads only the header: width, height and output components (1 grey or 3 RGB).
masknet_jpeg_status masknet_jpeg_read_header(const uint8_t *data, size_t size,
                                             int *width, int *height, int *components,
                                             char *message, size_t message_capacity);

/// Decodes a whole JPEG into a newly malloc'ed, interleaved 8-bit buffer of height*width*components bytes
/// (grey stays 1 component; everything else is converted to RGB). The caller frees *pixels with free().
/// On failure *pixels is NULL and `message` holds libjpeg's explanation.
masknet_jpeg_status masknet_jpeg_decode(const uint8_t *data, size_t size,
                                        uint8_t **pixels, int *width, int *height, int *components,
                                        char *message, size_t message_capacity);

/// Frees a buffer returned by masknet_jpeg_decode.
void masknet_jpeg_free(uint8_t *pixels);

#endif
