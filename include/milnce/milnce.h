/* libmilnce, the public C API: #include <milnce/milnce.h>, link with
 * `pkg-config --cflags --libs milnce` (or find_package(milnce) -> milnce::milnce).
 *
 * Conventions (every header): functions return 0 or a negative MILNCE_ERR_* code and, given a
 * milnce_error, fill it with a message naming the file, line or key at fault; the library never
 * prints, exits or changes process-wide settings; objects are created by *_open / *_create /
 * *_load and freed by the matching function, which takes &ptr and NULLs it. Sizes are given as
 * (rows, columns) in the comments, float32 row-major.
 *
 *   version.h    milnce_version() and the version macros
 *   error.h      error codes, milnce_error, the logger
 *   context.h    the execution context (threads, SIMD level, cancel flag, logger)
 *   config.h     the YAML configuration: defaults, load, --set style overrides, write
 *   shard.h      training shards (tar + index): read samples zero-copy, write, reindex
 *   retrieval.h  clip<->text retrieval ranks and recall metrics from embeddings
 *   loader.h     training batches from shards (clips, token ids, bag masks) for other frameworks
 *   embed.h      a checkpoint's video and text encoders: frames / sentences -> embeddings
 *
 * The other headers of the source tree are private and not installed. */
#ifndef MILNCE_PUBLIC_MILNCE_H
#define MILNCE_PUBLIC_MILNCE_H

#ifdef __cplusplus
extern "C" {
#endif

#include "version.h"
#include "error.h"
#include "context.h"
#include "config.h"
#include "shard.h"
#include "retrieval.h"
#include "loader.h"
#include "embed.h"

#ifdef __cplusplus
}
#endif

#endif
