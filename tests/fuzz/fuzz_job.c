/* libFuzzer target: the job parser on arbitrary text (job_parse_grid without the data
 * directory check), then the grid it accepts: counts, cells, backbones, seeds, descriptions. */
#include "synlaw/job.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    job_spec spec;
    char err[1024];
    if (job_parse_grid(&spec, text, "fuzz.yaml", 0, err, sizeof err) == 0) {
        int n = job_cell_count(&spec), nbb = job_backbone_count(&spec);
        if (n <= 100000 && nbb <= 100000) { /* the parser allows 10M cells: too slow per input */
            job_cell *cells = malloc(sizeof *cells * (size_t)(n + 1));
            job_backbone *bb = malloc(sizeof *bb * (size_t)(nbb + 1));
            if (cells && bb) {
                job_cells(&spec, cells);
                job_backbones(&spec, bb);
                char d[256];
                for (int i = 0; i < n; i++) {
                    (void)job_cell_seed(&spec, &cells[i]);
                    job_cell_recipe(&spec, &cells[i]);
                    if (i < 64)
                        job_cell_describe(&spec, &cells[i], d, sizeof d);
                }
                for (int b = 0; b < nbb; b++) {
                    (void)job_backbone_key(&spec, &bb[b]);
                    if (b < 64)
                        job_backbone_describe(&spec, &bb[b], d, sizeof d);
                }
            }
            free(cells);
            free(bb);
        }
        (void)job_max_finetune_evals(&spec);
        (void)job_max_pretrain_evals(&spec);
        (void)job_text_hash(text);
    }
    free(text);
    return 0;
}
