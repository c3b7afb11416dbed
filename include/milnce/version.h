/* The library's version. CMakeLists.txt reads the three numbers below (project(VERSION)), so
 * this file is the one place they are written; the shared library's SONAME carries the major
 * number (libmilnce.so.0). */
#ifndef MILNCE_PUBLIC_VERSION_H
#define MILNCE_PUBLIC_VERSION_H

#define MILNCE_VERSION_MAJOR 0
#define MILNCE_VERSION_MINOR 1
#define MILNCE_VERSION_PATCH 0

/* Version of the library the program runs with ("0.1.0"), which may differ from the headers it
 * was compiled against (compare with the macros above). */
const char *milnce_version(void);

#endif
