// JPEG decoding with libjpeg; see include/CJPEGShim.h for why this lives in C.
#include "CJPEGShim.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

/// libjpeg's error manager extended with our jump target and the first problem seen.
typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf escape;
    masknet_jpeg_status status;
    char *message;
    size_t message_capacity;
} masknet_error_mgr;

static void record(j_common_ptr cinfo, masknet_jpeg_status status) {
    masknet_error_mgr *err = (masknet_error_mgr *)cinfo->err;
    if (err->status != MASKNET_JPEG_OK) return;  // keep the first problem: later ones are consequences
    err->status = status;
    if (err->message != NULL && err->message_capacity > 0) {
        char text[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, text);
        snprintf(err->message, err->message_capacity, "%s", text);
    }
}

/// Fatal error: record it and jump back to the setjmp in this file (never into Swift).
static void masknet_error_exit(j_common_ptr cinfo) {
    record(cinfo, MASKNET_JPEG_CORRUPT);
    longjmp(((masknet_error_mgr *)cinfo->err)->escape, 1);
}

/// Warnings (msg_level < 0) mean corrupt or truncated data, which libjpeg would silently paper over by
/// inventing grey pixels; we treat them as failures. Trace messages (level >= 0) are ignored.
static void masknet_emit_message(j_common_ptr cinfo, int msg_level) {
    if (msg_level >= 0) return;
    record(cinfo, cinfo->err->msg_code == JWRN_JPEG_EOF ? MASKNET_JPEG_TRUNCATED : MASKNET_JPEG_CORRUPT);
}

/// Silences libjpeg's default stderr output.
static void masknet_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void install(struct jpeg_decompress_struct *cinfo, masknet_error_mgr *err,
                    char *message, size_t message_capacity) {
    cinfo->err = jpeg_std_error(&err->base);
    err->base.error_exit = masknet_error_exit;
    err->base.emit_message = masknet_emit_message;
    err->base.output_message = masknet_output_message;
    err->status = MASKNET_JPEG_OK;
    err->message = message;
    err->message_capacity = message_capacity;
    if (message != NULL && message_capacity > 0) message[0] = '\0';
}

/// Chooses the output colour space; returns 0 if we cannot convert this one.
static int choose_output(struct jpeg_decompress_struct *cinfo) {
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo->out_color_space = JCS_GRAYSCALE;
        return 1;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo->out_color_space = JCS_RGB;
        return 1;
    default:
        return 0;
    }
}

static void set_unsupported(char *message, size_t message_capacity, int color_space) {
    if (message != NULL && message_capacity > 0)
        snprintf(message, message_capacity, "JPEG colour space %d (CMYK/YCCK) is not supported", color_space);
}

masknet_jpeg_status masknet_jpeg_read_header(const uint8_t *data, size_t size,
                                             int *width, int *height, int *components,
                                             char *message, size_t message_capacity) {
    struct jpeg_decompress_struct cinfo;
    masknet_error_mgr err;
    install(&cinfo, &err, message, message_capacity);
    jpeg_create_decompress(&cinfo);
    if (setjmp(err.escape)) {
        jpeg_destroy_decompress(&cinfo);
        return err.status;
    }
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (err.status != MASKNET_JPEG_OK) {
        jpeg_destroy_decompress(&cinfo);
        return err.status;
    }
    if (!choose_output(&cinfo)) {
        int color_space = (int)cinfo.jpeg_color_space;
        jpeg_destroy_decompress(&cinfo);
        set_unsupported(message, message_capacity, color_space);
        return MASKNET_JPEG_UNSUPPORTED;
    }
    *width = (int)cinfo.image_width;
    *height = (int)cinfo.image_height;
    *components = cinfo.out_color_space == JCS_GRAYSCALE ? 1 : 3;
    jpeg_destroy_decompress(&cinfo);
    return MASKNET_JPEG_OK;
}

masknet_jpeg_status masknet_jpeg_decode(const uint8_t *data, size_t size,
                                        uint8_t **pixels, int *width, int *height, int *components,
                                        char *message, size_t message_capacity) {
    struct jpeg_decompress_struct cinfo;
    masknet_error_mgr err;
    // volatile: modified between setjmp and a possible longjmp, and read after it.
    uint8_t *volatile buffer = NULL;
    *pixels = NULL;
    install(&cinfo, &err, message, message_capacity);
    jpeg_create_decompress(&cinfo);
    if (setjmp(err.escape)) {
        jpeg_destroy_decompress(&cinfo);
        free(buffer);
        return err.status;
    }
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (!choose_output(&cinfo)) {
        int color_space = (int)cinfo.jpeg_color_space;
        jpeg_destroy_decompress(&cinfo);
        set_unsupported(message, message_capacity, color_space);
        return MASKNET_JPEG_UNSUPPORTED;
    }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    buffer = (uint8_t *)malloc(stride * (size_t)cinfo.output_height);
    if (buffer == NULL) {
        jpeg_destroy_decompress(&cinfo);
        return MASKNET_JPEG_OUT_OF_MEMORY;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buffer + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    if (err.status != MASKNET_JPEG_OK) {  // a warning: data were corrupt or truncated
        jpeg_destroy_decompress(&cinfo);
        free(buffer);
        return err.status;
    }
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    *components = cinfo.output_components;
    *pixels = buffer;
    jpeg_destroy_decompress(&cinfo);
    return MASKNET_JPEG_OK;
}

void masknet_jpeg_free(uint8_t *pixels) { free(pixels); }
