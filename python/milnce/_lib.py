"""ctypes bindings of libmilnce's C API (include/milnce/loader.h, include/milnce/embed.h).

The library is looked up in this order: the MILNCE_LIBRARY environment variable (a path), the
package folder (libmilnce.so copied next to this file), the system's libraries (ldconfig, as
installed by `cmake --install`), then an in-tree build (<repo>/build/libmilnce.so). ctypes
releases the GIL around every call, so decoding and the encoders run while Python threads go on.
"""
import ctypes
import ctypes.util
import os

MSG_MAX = 1024  # MILNCE_ERROR_MSG_MAX of src/base/error.h


class MilnceError(RuntimeError):
    """A milnce library error: .code is the negative MILNCE_ERR_* code, str() its message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class _Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * MSG_MAX)]


class _Split(ctypes.Structure):
    _fields_ = [("rank", ctypes.c_int), ("world", ctypes.c_int), ("consumer", ctypes.c_int),
                ("consumers", ctypes.c_int), ("epoch", ctypes.c_int), ("epochs", ctypes.c_int),
                ("video_uint8", ctypes.c_int)]


class _Batch(ctypes.Structure):
    _fields_ = [("index", ctypes.c_int64), ("epoch", ctypes.c_int64),
                ("B", ctypes.c_int64), ("K", ctypes.c_int64), ("T", ctypes.c_int64),
                ("S", ctypes.c_int64), ("L", ctypes.c_int64),
                ("video", ctypes.POINTER(ctypes.c_float)),
                ("video_u8", ctypes.POINTER(ctypes.c_uint8)),
                ("text", ctypes.POINTER(ctypes.c_int64)),
                ("mask", ctypes.POINTER(ctypes.c_uint8)),
                ("video_idx", ctypes.POINTER(ctypes.c_int32)),
                ("anchor", ctypes.POINTER(ctypes.c_int32)),
                ("clip_time", ctypes.POINTER(ctypes.c_double))]


class _EmbedInfo(ctypes.Structure):
    _fields_ = [("T", ctypes.c_int64), ("S", ctypes.c_int64), ("fps", ctypes.c_double),
                ("E", ctypes.c_int64), ("F", ctypes.c_int64), ("max_words", ctypes.c_int64),
                ("step", ctypes.c_int64)]


def _candidates():
    env = os.environ.get("MILNCE_LIBRARY")
    if env:
        yield env
        return  # an explicit choice: no silent fallback to another build
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libmilnce.so", "libmilnce.so.0"):
        yield os.path.join(here, name)
    found = ctypes.util.find_library("milnce")
    if found:
        yield found
    for name in ("libmilnce.so.0", "libmilnce.so"):
        yield name
    yield os.path.join(here, "..", "..", "build", "libmilnce.so")


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} (absent)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError("milnce: libmilnce.so not found; build it (cmake --build build) and set "
                      "MILNCE_LIBRARY=/path/to/libmilnce.so, or install it. Tried: " + "; ".join(tried))


lib, path = _load()

_P = ctypes.c_void_p
_ERR = ctypes.POINTER(_Error)
_STRS = ctypes.POINTER(ctypes.c_char_p)


def _sig(name, res, *args):
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)


_sig("milnce_data_open", ctypes.c_int, ctypes.POINTER(_P), ctypes.c_char_p, _STRS, ctypes.c_int,
     ctypes.POINTER(_Split), _ERR)
_sig("milnce_data_set_epoch", ctypes.c_int, _P, ctypes.c_int, _ERR)
_sig("milnce_data_next", ctypes.c_int, _P, ctypes.POINTER(_Batch), _ERR)
_sig("milnce_data_pop_warning", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_size_t,
     ctypes.POINTER(ctypes.c_uint64))
_sig("milnce_data_videos", ctypes.c_size_t, _P)
_sig("milnce_data_batches_per_epoch", ctypes.c_int64, _P)
_sig("milnce_data_consumer_batches", ctypes.c_int64, _P)
_sig("milnce_data_key", ctypes.c_char_p, _P, ctypes.c_size_t)
_sig("milnce_data_config_yaml", ctypes.c_char_p, _P)
_sig("milnce_data_close", None, ctypes.POINTER(_P))
_sig("milnce_data_resolve_config", ctypes.c_int, ctypes.c_char_p, _STRS, ctypes.c_int,
     ctypes.POINTER(ctypes.c_void_p), _ERR)
_sig("milnce_data_free", None, ctypes.c_void_p)
_sig("milnce_embedder_open", ctypes.c_int, ctypes.POINTER(_P), ctypes.c_char_p, ctypes.c_char_p, _STRS,
     ctypes.c_int, ctypes.c_int, ctypes.c_int, _ERR)
_sig("milnce_embedder_info_get", None, _P, ctypes.POINTER(_EmbedInfo))
_sig("milnce_embedder_video", ctypes.c_int, _P, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t, ctypes.c_int,
     ctypes.POINTER(ctypes.c_float), _ERR)
_sig("milnce_embedder_text", ctypes.c_int, _P, _STRS, ctypes.c_size_t, ctypes.POINTER(ctypes.c_float),
     ctypes.POINTER(ctypes.c_size_t), _ERR)
_sig("milnce_embedder_close", None, ctypes.POINTER(_P))


def quiet_ffmpeg():
    """FFmpeg's own log (process-wide) down to fatal errors, as the milnce command does, unless
    MILNCE_FFMPEG_LOG is set: a damaged sample is reported once, by milnce's warning."""
    if os.environ.get("MILNCE_FFMPEG_LOG"):
        return
    try:
        lib.av_log_set_level(ctypes.c_int(8))  # AV_LOG_FATAL, from libavutil (a dependency)
    except AttributeError:
        pass


quiet_ffmpeg()


class Handle:
    """An owned C handle freed by close() (also on `with` exit and garbage collection)."""

    _close_fn = None  # name of the C function taking the handle's address
    _what = "handle"

    def _need(self):
        if not getattr(self, "_h", None):
            raise MilnceError(-1, f"{self._what} is closed")

    def close(self):
        h = getattr(self, "_h", None)
        if h:
            getattr(lib, self._close_fn)(ctypes.byref(h))
            self._h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def check(ret, err):
    """Raises MilnceError carrying milnce's message when ret < 0; returns ret."""
    if ret < 0:
        raise MilnceError(ret, err.msg.decode("utf-8", "replace") or f"milnce error {ret}")
    return ret


def strings(items):
    """A (char **, count, keep-alive) triple of UTF-8 strings for the C API."""
    enc = [s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in items]
    arr = (ctypes.c_char_p * max(1, len(enc)))(*enc)
    return arr, len(enc), enc


def fs(p):
    return None if p is None else os.fsencode(p)
