/*
 * Value specs: a small table language for the options of an experiment
 * section. Each row names a key, its type and whether it is required; the
 * experiment parser checks a YAML mapping against a table and turns it into
 * JSON (durations become integer milliseconds). Each target kind owns the
 * table of its options next to its launcher (fl_target_schema() in
 * faultline/target.h); the verifiers' tables live with the verify: parser.
 */
#ifndef FAULTLINE_OPTSPEC_H
#define FAULTLINE_OPTSPEC_H

#include <stdbool.h>

enum vt {
    VT_MAP,        /* sub: struct vspec[] */
    VT_DUR,        /* -> integer milliseconds */
    VT_UINT,       /* non-negative integer */
    VT_PORT,       /* 1..65535 */
    VT_RATIO,      /* 0..1 */
    VT_BOOL,       /* true | false */
    VT_ENUM,       /* sub: values */
    VT_STR,        /* any string */
    VT_NAMELIST,   /* list of names (operation names) */
    VT_ENUMLIST,   /* list of values from sub */
    VT_REGION,     /* a region of the topology */
    VT_REGIONLIST, /* regions, each once */
    VT_RATIOMAP,   /* {name: ratio} */
};

/* One key of a mapping; a table ends with a row whose key is NULL. */
struct vspec {
    const char *key;
    enum vt type;
    const void *sub; /* VT_MAP: struct vspec[]; VT_ENUM, VT_ENUMLIST: NULL-terminated names */
    bool required;
};

#endif
