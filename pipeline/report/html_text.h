/* Text into HTML, appended to a milnce_buf (src/base/buf.h): the report page and its SVG plots
 * share these. */
#ifndef MILNCE_HTML_TEXT_H
#define MILNCE_HTML_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Appends n bytes of str HTML-escaped (& < > " ' as entities; invalid UTF-8 and control
 * characters other than \n \t as U+FFFD; \r dropped). */
void milnce_html_put_escaped(milnce_buf *b, const char *str, size_t n);
void milnce_html_puts_escaped(milnce_buf *b, const char *s);
/* Appends n bytes of d as base64 (RFC 4648, padded), for data: URIs. */
void milnce_html_put_base64(milnce_buf *b, const uint8_t *d, size_t n);

/* HTML-escapes n bytes of s (& < > " ' and invalid UTF-8 / control characters -> U+FFFD; \n \t
 * kept) into a malloc'ed string. Exposed for tests and other pages. NULL on allocation failure. */
char *milnce_html_escape(const char *s, size_t n);

#endif
