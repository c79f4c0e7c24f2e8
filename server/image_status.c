/* ImageStatus and ListImages: image records from the image library as CRI Image messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "img.h"
#include "srv.h"

static char **strv(struct srv_call *call, char **v, size_t n)
{
	char **out = srv_alloc(call, (n ? n : 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = srv_strdup(call, v[i]);
	return out;
}

/* config.User "1000", "1000:100" -> uid; "app", "app:grp" -> username; "" -> neither. */
static void set_user(struct srv_call *call, Runtime__V1__Image *out, const char *user)
{
	size_t n = strcspn(user, ":");
	if (n == 0)
		return;
	char *name = srv_alloc(call, n + 1);
	memcpy(name, user, n);
	name[n] = '\0';
	char *end;
	long long uid = strtoll(name, &end, 10);
	if (*end == '\0' && uid >= 0) {
		out->uid = SRV_NEW(call, Runtime__V1__Int64Value, runtime__v1__int64_value__init);
		out->uid->value = uid;
	} else {
		out->username = name;
	}
}

static Runtime__V1__Image *image_msg(struct srv_call *call, const struct img_image *im)
{
	Runtime__V1__Image *out = SRV_NEW(call, Runtime__V1__Image, runtime__v1__image__init);
	out->id = srv_strdup(call, im->id);
	out->repo_tags = strv(call, im->repo_tags, im->n_repo_tags);
	out->n_repo_tags = im->n_repo_tags;
	out->repo_digests = strv(call, im->repo_digests, im->n_repo_digests);
	out->n_repo_digests = im->n_repo_digests;
	out->size = im->size;
	set_user(call, out, im->user);
	out->spec = SRV_NEW(call, Runtime__V1__ImageSpec, runtime__v1__image_spec__init);
	out->spec->image = out->id;
	return out;
}

/* info["info"]: the image config and the layer chain ids, as JSON. */
static char *verbose_info(struct srv_call *call, const struct img_image *im)
{
	json_object *o = json_object_new_object(), *layers = json_object_new_array();
	json_object *config = json_tokener_parse(im->config_json);
	json_object_object_add(o, "id", json_object_new_string(im->id));
	json_object_object_add(o, "imageSpec", config ? config : json_object_new_object());
	for (size_t i = 0; i < im->n_layers; i++)
		json_object_array_add(layers, json_object_new_string(im->layers[i]));
	json_object_object_add(o, "chainIDs", layers);
	char *s = srv_strdup(call, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

int srv_rpc_ImageStatus(struct srv_call *call, const ProtobufCMessage *request, ProtobufCMessage **response,
			struct crix_err **err)
{
	const Runtime__V1__ImageStatusRequest *req = (const Runtime__V1__ImageStatusRequest *)request;
	struct srv_daemon *d = srv_daemon(call);
	if (req->image == NULL || req->image->image == NULL || req->image->image[0] == '\0')
		return crix_err_make(err, EINVAL, "ImageStatus: no image given");
	if (d->images == NULL)
		return crix_err_make(err, EAGAIN, "ImageStatus: the image store is not open");
	struct img_image *im = NULL;
	if (img_status(d->images, req->image->image, &im, err) < 0)
		return -1;
	Runtime__V1__ImageStatusResponse *resp =
		SRV_NEW(call, Runtime__V1__ImageStatusResponse, runtime__v1__image_status_response__init);
	if (im != NULL) { /* an unknown image is a nil image, not an error */
		resp->image = image_msg(call, im);
		if (req->verbose) {
			Runtime__V1__ImageStatusResponse__InfoEntry *e = SRV_NEW(
				call, Runtime__V1__ImageStatusResponse__InfoEntry,
				runtime__v1__image_status_response__info_entry__init);
			e->key = "info";
			e->value = verbose_info(call, im);
			resp->info = srv_alloc(call, sizeof(*resp->info));
			resp->info[0] = e;
			resp->n_info = 1;
		}
		img_image_free(im);
	}
	*response = &resp->base;
	return 0;
}

int srv_rpc_ListImages(struct srv_call *call, const ProtobufCMessage *request, ProtobufCMessage **response,
		       struct crix_err **err)
{
	const Runtime__V1__ListImagesRequest *req = (const Runtime__V1__ListImagesRequest *)request;
	struct srv_daemon *d = srv_daemon(call);
	if (d->images == NULL)
		return crix_err_make(err, EAGAIN, "ListImages: the image store is not open");
	const char *filter = req->filter && req->filter->image ? req->filter->image->image : NULL;
	struct img_image **v = NULL;
	size_t n = 0;
	if (img_list(d->images, filter, &v, &n, err) < 0)
		return -1;
	Runtime__V1__ListImagesResponse *resp =
		SRV_NEW(call, Runtime__V1__ListImagesResponse, runtime__v1__list_images_response__init);
	resp->images = srv_alloc(call, (n ? n : 1) * sizeof(*resp->images));
	for (size_t i = 0; i < n; i++)
		resp->images[i] = image_msg(call, v[i]);
	resp->n_images = n;
	img_image_list_free(v, n);
	*response = &resp->base;
	return 0;
}
