/*
 * Experiment files: experiment_parse (YAML text in memory, exactly as
 * `faultline validate` and `run` read a file) and, when it parses, the
 * verify section into the verifiers' configuration, as validate does.
 */
#include <stdlib.h>
#include <string.h>

#include "experiment.h"
#include "fuzz.h"
#include "verify_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct experiment *exp = NULL;
    struct vfy_config cfg;
    struct fl_err err;

    if (size > 256 * 1024) /* experiment_load refuses more than 1 MiB; keep runs fast */
        return 0;
    fl_err_clear(&err);
    if (experiment_parse((const char *)data, size, "fuzz.yaml", &exp, &err) < 0)
        return 0;
    fl_err_clear(&err);
    exp_verify_config(exp, &cfg, &err);
    experiment_free(exp);
    return 0;
}
