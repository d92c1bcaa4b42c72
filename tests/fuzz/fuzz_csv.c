/* libFuzzer target: the CSV reader and the fits behind it (csvfit_run on a temporary file).
 * The first byte picks the options (group, last, repeat, s columns, filters, the law, a few
 * bootstrap replicates); the rest is the file. */
#include "synlaw/csvfit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_tmp.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!path[0]) {
        snprintf(path, sizeof path, "%s/synlaw-fuzz-csv-%d.csv", fuzz_tmpdir(), (int)getpid());
        fuzz_tmp_register(path);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    unsigned o = data[0];
    csvfit_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.path = path;
    sp.x_col = o & 1 ? "pretrain.data" : "n";
    sp.y_col = o & 1 ? "value" : "y";
    sp.y_one_minus = (o >> 1) & 1;
    if ((o >> 2) & 1)
        sp.group_cols[sp.n_group++] = o & 1 ? "model" : "g";
    if ((o >> 3) & 1)
        sp.last_col = o & 1 ? "n_eval" : "step";
    if ((o >> 4) & 1)
        sp.repeat_col = o & 1 ? "fratio" : "r";
    if ((o >> 5) & 1) {
        sp.filters[0] = (csvfit_filter){o & 1 ? "pscale" : "g", o & 1 ? "64k" : "a", (o >> 6) & 1};
        sp.n_filter = 1;
    }
    fit_law law = (o >> 6) & 1 ? FIT_POWER : FIT_SIMPLE;
    if ((o >> 7) & 1) {
        law = FIT_FULL;
        sp.s_col = o & 1 ? "fratio" : "s";
    }
    sp.opt = analysis_default_options(law);
    sp.opt.bootstrap = 3;
    sp.opt.boot_repeats = sp.repeat_col != NULL && ((o >> 2) & 1);
    csvfit_result res;
    char err[1024];
    if (csvfit_run(&res, &sp, err, sizeof err) == 0)
        csvfit_result_free(&res);
    return 0;
}
