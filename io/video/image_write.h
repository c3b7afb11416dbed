/* Still images from RGB24 pixels: JPEG (libavcodec "mjpeg", full-range 4:4:4, baseline) or PNG
 * (libavcodec "png", lossless RGB24), to memory or to a file written atomically.
 *
 * Used for the retrieval thumbnails that eval writes into a run folder's thumbs/ and that the
 * HTML report embeds. Optional scaling (bicubic, libswscale) makes a thumbnail from a full
 * frame in the same call.
 *
 * Pixels are RGB24: (height, width, 3) bytes, rows `stride` bytes apart (stride >= 3 * width). */
#ifndef MILNCE_IMAGE_WRITE_H
#define MILNCE_IMAGE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum { MILNCE_IMAGE_AUTO = 0, MILNCE_IMAGE_JPEG = 1, MILNCE_IMAGE_PNG = 2 } milnce_image_format;

typedef struct milnce_image_opts {
    milnce_image_format format; /* AUTO: from the file extension (.jpg/.jpeg/.png); JPEG in memory */
    int quality;                /* JPEG 1 (worst) .. 100 (best); 0 = 90. Ignored for PNG. */
    int out_width, out_height;  /* pixels; 0 and 0 = input size; one of them 0 = keep aspect ratio */
} milnce_image_opts;

/* Largest side accepted, in and out (a thumbnail writer, not a poster printer). */
#define MILNCE_IMAGE_MAX_SIDE 16384

/* Encodes rgb (height, width, 3) into *data (malloc'ed, caller frees) of *size bytes.
 * o may be NULL (JPEG, quality 90, input size). */
int milnce_image_encode(const uint8_t *rgb, int width, int height, int stride,
                        const milnce_image_opts *o, uint8_t **data, size_t *size, milnce_error *err);

/* Encodes and writes to path atomically; the format follows o->format or the extension. */
int milnce_image_write_file(const char *path, const uint8_t *rgb, int width, int height, int stride,
                            const milnce_image_opts *o, milnce_error *err);

/* Format from a path's extension (case-insensitive .jpg, .jpeg, .png); AUTO if unknown. */
milnce_image_format milnce_image_format_from_path(const char *path);

/* Format from the first bytes of an encoded image (JPEG SOI or PNG signature); AUTO if neither. */
milnce_image_format milnce_image_format_sniff(const uint8_t *data, size_t size);

#endif
