/* config -> img_store_opts: the strings are the config's, only the arrays are new. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "img_config.h"

int img_config_opts(const struct crix_config *cfg, struct img_config_opts *out, struct crix_err **err)
{
	memset(out, 0, sizeof(*out));
	size_t n = cfg->image.n_registries, n_mirrors = 0;
	for (size_t i = 0; i < n; i++)
		n_mirrors += cfg->image.registries[i].n_mirrors;
	out->registries = calloc(n ? n : 1, sizeof(*out->registries));
	out->mirrors = calloc(n_mirrors ? n_mirrors : 1, sizeof(*out->mirrors));
	if (out->registries == NULL || out->mirrors == NULL) {
		img_config_opts_clear(out);
		return crix_err_make(err, ENOMEM, "image settings");
	}
	struct img_mirror *m = out->mirrors;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_registry *r = &cfg->image.registries[i];
		out->registries[i] = (struct img_registry){
			.prefix = r->prefix, .insecure = r->insecure, .mirrors = m, .n_mirrors = r->n_mirrors};
		for (size_t j = 0; j < r->n_mirrors; j++)
			*m++ = (struct img_mirror){.location = r->mirrors[j].location, .insecure = r->mirrors[j].insecure};
	}
	out->opts = (struct img_store_opts){
		.root = cfg->root,
		.max_parallel_downloads = cfg->image.max_parallel_downloads,
		.auth_file = cfg->image.auth_file,
		.registries = out->registries,
		.n_registries = n,
		.stall_timeout = cfg->image.stall_timeout,
		.min_speed = cfg->image.min_speed,
	};
	return 0;
}

void img_config_opts_clear(struct img_config_opts *o)
{
	free(o->registries);
	free(o->mirrors);
	memset(o, 0, sizeof(*o));
}
