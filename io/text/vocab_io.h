/* Vocabulary files: UTF-8 text, one word per line, the id of a word is its line number (the
 * first line is id 1; id 0 is padding and has no line). Written atomically. */
#ifndef MILNCE_VOCAB_IO_H
#define MILNCE_VOCAB_IO_H

#include "error.h"
#include "vocab.h"

/* Writes v->words[1..n], one per line. Refuses words holding '\n' or '\r'. */
int milnce_vocab_save(const char *path, const milnce_vocab *v, milnce_error *err);

/* Reads path into out (empty). A trailing "\r" is dropped (CRLF files); an empty line, a word
 * seen twice or a NUL byte is a format error naming the file and line. */
int milnce_vocab_load(const char *path, milnce_vocab *out, milnce_error *err);

/* The words of v joined by '\n' in id order (id 1 first, no trailing newline): how a checkpoint
 * carries its vocabulary. malloc'ed; NULL when out of memory. */
char *milnce_vocab_to_text(const milnce_vocab *v);

/* Parses such a text (or a vocab.txt held in memory: a trailing newline and CRs are accepted)
 * into out (empty), with the rules of milnce_vocab_load; name is used in messages. */
int milnce_vocab_from_text(const char *text, size_t n, const char *name, milnce_vocab *out, milnce_error *err);

#endif
