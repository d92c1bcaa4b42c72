/* synlaw models: the model zoo with sizes and costs, for any input shape. */
#include "cli.h"

#include "synlaw/data.h"
#include "synlaw/nn.h"

#include <getopt.h>

const char *const usage_models =
    "usage: synlaw models [--input HxWxC] [--classes K]\n"
    "\n"
    "List the model zoo for images of H x W pixels and C channels (default 28x28x1,\n"
    "Fashion-MNIST's) with a head of K classes (default 10): parameters (all, and the\n"
    "backbone a results file keeps), forward MFLOP per sample and layers. Layers follow\n"
    "the input: each convolution stage halves the image, the first dense layer takes what\n"
    "remains.\n"
    "\n"
    "  --input HxWxC  image rows x columns x channels (8..64 a side; 1 or 3 channels)\n"
    "  --classes K    outputs of the fine-tuning head (2..256)\n"
    "  -h, --help     show this help\n";

int cmd_models(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"input", required_argument, NULL, 'i'},
                                         {"classes", required_argument, NULL, 'k'},
                                         {NULL, 0, NULL, 0}};
    int c, rows = 28, cols = 28, channels = 1;
    long classes = 10;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage_models, stdout); return EXIT_OK;
        case 'i':
            if (cli_parse_shape(optarg, &rows, &cols, &channels) != 0 || rows < DATA_MIN_SIDE ||
                rows > DATA_MAX_SIDE || cols < DATA_MIN_SIDE || cols > DATA_MAX_SIDE ||
                (channels != 1 && channels != 3))
                return cli_usage_error(usage_models, "models: --input '%s': expected HxWxC with sides "
                                       "%d..%d and 1 or 3 channels, e.g. 32x32x3", cli_safe(optarg),
                                       DATA_MIN_SIDE, DATA_MAX_SIDE);
            break;
        case 'k':
            if (cli_parse_long(optarg, 2, DATA_MAX_CLASSES, &classes))
                return cli_usage_error(usage_models, "models: --classes '%s': expected an integer 2..%d",
                                       cli_safe(optarg), DATA_MAX_CLASSES);
            break;
        default: return cli_usage_error(usage_models, "models: unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_models, "models: unexpected argument '%s'", cli_safe(argv[optind]));
    printf("input %dx%dx%d, %ld classes\n", rows, cols, channels, classes);
    printf("%-8s %10s %10s %14s  %s\n", "model", "params", "backbone", "MFLOP/sample", "layers");
    for (int i = 0; i < nn_model_count(); i++) {
        nn_arch a;
        if (nn_arch_build(&a, nn_model_name(i), rows, cols, channels, (int)classes) != 0)
            continue;
        char layers[256];
        nn_arch_describe(&a, layers, sizeof layers);
        printf("%-8s %10zu %10zu %14.3f  %s\n", a.name, a.nparam, a.nparam_backbone, a.flops * 1e-6, layers);
    }
    return EXIT_OK;
}
