/* synlaw render: a PNG contact sheet of synthetic images, and the rendering rate. */
#include "cli.h"

#include "synlaw/bench.h"
#include "synlaw/image.h"
#include "synlaw/synth.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

const char *const usage_render =
    "usage: synlaw render --complexity K --count N -o SHEET.png [--seed S] [--shape HxWxC]\n"
    "                     [--cols C] [--scale X]\n"
    "\n"
    "Render images 0..N-1 of the synthetic data set with seed S at complexity K (1-4) into a\n"
    "PNG contact sheet, at the size and channels of a real task (what the network sees when\n"
    "its data has that shape), and report the rendering rate at 28x28x1.\n"
    "\n"
    "  -c, --complexity K   level 1..4 (default 1)\n"
    "  -n, --count N        images on the sheet (default 64)\n"
    "  -s, --seed S         data-set seed (default 1)\n"
    "      --shape HxWxC    image rows x columns x channels (8..64; 1 or 3; default 28x28x1)\n"
    "      --cols C         tiles per row (default 16)\n"
    "      --scale X        pixels per image pixel (default 2)\n"
    "  -o, --output FILE    PNG file to write\n"
    "  -h, --help           show this help\n";

int cmd_render(int argc, char **argv)
{
    static const struct option opts[] = {
        {"complexity", required_argument, NULL, 'c'}, {"count", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},       {"cols", required_argument, NULL, 'C'},
        {"scale", required_argument, NULL, 'x'},      {"output", required_argument, NULL, 'o'},
        {"shape", required_argument, NULL, 'S'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    synth_shape shape = {SYNTH_SIDE, SYNTH_SIDE, 1};
    long complexity = 1, count = 64, seed = 1, cols = 16, scale = 2;
    const char *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:n:s:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (cli_parse_long(optarg, 1, SYNTH_MAX_COMPLEXITY, &complexity))
                return cli_usage_error(usage_render, "render: --complexity '%s': expected 1..4", optarg);
            break;
        case 'n':
            if (cli_parse_long(optarg, 1, 100000, &count))
                return cli_usage_error(usage_render, "render: --count '%s': expected 1..100000", optarg);
            break;
        case 's':
            if (cli_parse_long(optarg, 0, 0x7fffffffL, &seed))
                return cli_usage_error(usage_render, "render: --seed '%s': expected a non-negative integer", optarg);
            break;
        case 'C':
            if (cli_parse_long(optarg, 1, 1000, &cols))
                return cli_usage_error(usage_render, "render: --cols '%s': expected 1..1000", optarg);
            break;
        case 'x':
            if (cli_parse_long(optarg, 1, 16, &scale))
                return cli_usage_error(usage_render, "render: --scale '%s': expected 1..16", optarg);
            break;
        case 'S': {
            if (cli_parse_shape(optarg, &shape.rows, &shape.cols, &shape.channels) != 0 ||
                synth_shape_check(&shape) != 0)
                return cli_usage_error(usage_render, "render: --shape '%s': expected HxWxC with sides %d..%d and "
                                       "1 or 3 channels, e.g. 32x32x3", cli_safe(optarg), SYNTH_MIN_SIDE,
                                       SYNTH_MAX_SIDE);
            break;
        }
        case 'o': out = optarg; break;
        case 'h': fputs(usage_render, stdout); return EXIT_OK;
        default: return cli_usage_error(usage_render, "render: unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_render, "render: unexpected argument '%s'", argv[optind]);
    if (!out)
        return cli_usage_error(usage_render, "render: -o SHEET.png is required");
    size_t per = (size_t)shape.rows * shape.cols * shape.channels;
    float *images = malloc(sizeof(float) * per * (size_t)count);
    synth_sample *s = malloc(sizeof *s);
    if (!images || !s) {
        free(images), free(s);
        return cli_error(EXIT_RUNTIME, "render: out of memory");
    }
    for (long i = 0; i < count; i++) {
        synth_render_shape(s, &shape, (uint64_t)seed, (uint64_t)i, (int)complexity);
        memcpy(images + (size_t)i * per, s->image, sizeof(float) * per);
    }
    free(s);
    char err[512];
    int rc = image_write_sheet(out, images, (int)count, shape.rows, shape.cols, shape.channels,
                               (int)(cols < count ? cols : count),
                               (int)scale, err, sizeof err);
    free(images);
    if (rc)
        return cli_error(EXIT_RUNTIME, "render: %s", err);
    /* The rate of a fixed-time run, so that it does not depend on --count. */
    double per_image = bench_render_seconds((int)complexity, 0.5);
    printf("wrote %s: %ld images of %dx%dx%d at complexity %ld (seed %ld)\n", cli_safe(out), count, shape.rows,
           shape.cols, shape.channels, complexity, seed);
    printf("rendering rate: %.0f images/s on one core (28x28x1, rendered and standardised)\n", 1.0 / per_image);
    return EXIT_OK;
}
