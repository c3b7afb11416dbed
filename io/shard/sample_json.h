/* The sentences of a shard sample's .json member (docs/design.md "Formats"), as the training loader
 * needs them: each sentence's start and end (seconds) and token ids, and the video's duration.
 *
 * Read in one SAX pass (yajl) that keeps nothing else: building jansson's tree of the whole
 * document (every sentence's text, the source path ...) cost 5-8% of the instructions of a
 * training clip, once per clip, since consecutive clips come from different videos. The pass
 * still validates the whole document as JSON. */
#ifndef MILNCE_SAMPLE_JSON_H
#define MILNCE_SAMPLE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct milnce_sample_sentences {
    double *start, *end;  /* (n) seconds */
    int32_t **tok;        /* (n) pointers into one block of token ids */
    int *ntok;            /* (n) */
    size_t n;
    double duration;      /* seconds; 0 when the document has none */
    /* storage */
    int32_t *tokens;
    size_t ntokens;
} milnce_sample_sentences;

/* Parses data (size bytes). Every sentence needs a numeric "start" and "end" and a "tokens"
 * array of integers; a document with no sentence is an error. name labels messages
 * ("<key>.json"). On error *s is empty. */
int milnce_sample_sentences_parse(const uint8_t *data, size_t size, const char *name,
                                  milnce_sample_sentences *s, milnce_error *err);

void milnce_sample_sentences_free(milnce_sample_sentences *s);

#endif
