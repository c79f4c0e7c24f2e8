/* The image store's options from crix's configuration, for the programs that read both
 * (crixd, crix-image): the image library itself knows nothing of config/. */
#ifndef CRIX_IMG_CONFIG_H
#define CRIX_IMG_CONFIG_H

#include "cfg.h"
#include "img.h"

struct img_config_opts {
	struct img_store_opts opts; /* points into the config and into the arrays below */
	struct img_registry *registries;
	struct img_mirror *mirrors; /* every registry's, one after the other */
};

/* root and the image section of cfg as store options; valid while cfg is. */
int img_config_opts(const struct crix_config *cfg, struct img_config_opts *out, struct crix_err **err);
void img_config_opts_clear(struct img_config_opts *o);

#endif
