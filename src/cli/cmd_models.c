/* synlaw models: the model zoo with sizes and costs. */
#include "cli.h"

#include "synlaw/nn.h"
#include "synlaw/train.h"

#include <getopt.h>

const char *const usage_models =
    "usage: synlaw models\n"
    "\n"
    "List the model zoo: parameters, forward MFLOP per sample and layers (with the\n"
    "fine-tuning head of the real task).\n"
    "\n"
    "  -h, --help  show this help\n";

int cmd_models(int argc, char **argv)
{
    int rc = cli_help_only(argc, argv, usage_models, "models");
    if (rc >= 0)
        return rc;
    if (optind != argc)
        return cli_usage_error(usage_models, "models: unexpected argument '%s'", argv[optind]);
    printf("%-8s %10s %14s  %s\n", "model", "params", "MFLOP/sample", "layers (10-way head)");
    for (int i = 0; i < nn_model_count(); i++) {
        nn_arch a;
        if (nn_arch_build(&a, nn_model_name(i), TRAIN_CLASSES) != 0)
            continue;
        char layers[256];
        nn_arch_describe(&a, layers, sizeof layers);
        printf("%-8s %10zu %14.3f  %s\n", a.name, a.nparam, a.flops * 1e-6, layers);
    }
    return EXIT_OK;
}
