#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crix_alloc.h"
#include "srv_internal.h"

/* Chunks are chained; requests and responses are small, so most calls use one chunk. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct srv_arena {
	struct arena_chunk *head;
};

#define ARENA_CHUNK 4096

struct srv_arena *srv_arena_new(void)
{
	struct srv_arena *a = crix_xmalloc(sizeof(*a));
	a->head = NULL;
	return a;
}

void *srv_arena_alloc(struct srv_arena *a, size_t size)
{
	size_t align = _Alignof(max_align_t);
	size = (size + align - 1) & ~(align - 1);
	if (size == 0)
		size = align;
	struct arena_chunk *c = a->head;
	if (c == NULL || c->size - c->used < size) {
		size_t chunk = size > ARENA_CHUNK ? size : ARENA_CHUNK;
		c = crix_xmalloc(sizeof(*c) + chunk);
		c->used = 0;
		c->size = chunk;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += size;
	return p;
}

void srv_arena_free(struct srv_arena *a)
{
	if (a == NULL)
		return;
	for (struct arena_chunk *c = a->head, *next; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

static void *arena_pb_alloc(void *data, size_t size) { return srv_arena_alloc(data, size); }
static void arena_pb_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

ProtobufCAllocator srv_arena_allocator(struct srv_arena *a)
{
	return (ProtobufCAllocator){.alloc = arena_pb_alloc, .free = arena_pb_free, .allocator_data = a};
}
