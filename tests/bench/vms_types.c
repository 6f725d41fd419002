/*
 * The field types of the VMState-style interpreter (see vms.h): QEMU 7.2's
 * migration/vmstate-types.c, modelled, for the types the bench states use. Each is a
 * VMStateInfo whose get/put the interpreter calls through a pointer once per element.
 */
#define _POSIX_C_SOURCE 200809L
#include "vms.h"

static int get_bool(QEMUFile *f, void *pv, size_t size, const VMStateField *field)
{
    bool *v = pv;

    (void)size;
    (void)field;
    *v = qemu_get_byte(f);
    return 0;
}

static int put_bool(QEMUFile *f, void *pv, size_t size, const VMStateField *field,
                    JSONWriter *vmdesc)
{
    bool *v = pv;

    (void)size;
    (void)field;
    (void)vmdesc;
    qemu_put_byte(f, *v);
    return 0;
}

const VMStateInfo vmstate_info_bool = {
    .name = "bool",
    .get = get_bool,
    .put = put_bool,
};

static int get_uint8(QEMUFile *f, void *pv, size_t size, const VMStateField *field)
{
    (void)size;
    (void)field;
    qemu_get_8s(f, pv);
    return 0;
}

static int put_uint8(QEMUFile *f, void *pv, size_t size, const VMStateField *field,
                     JSONWriter *vmdesc)
{
    (void)size;
    (void)field;
    (void)vmdesc;
    qemu_put_8s(f, pv);
    return 0;
}

const VMStateInfo vmstate_info_uint8 = {
    .name = "uint8",
    .get = get_uint8,
    .put = put_uint8,
};

static int get_uint16(QEMUFile *f, void *pv, size_t size, const VMStateField *field)
{
    (void)size;
    (void)field;
    qemu_get_be16s(f, pv);
    return 0;
}

static int put_uint16(QEMUFile *f, void *pv, size_t size, const VMStateField *field,
                      JSONWriter *vmdesc)
{
    (void)size;
    (void)field;
    (void)vmdesc;
    qemu_put_be16s(f, pv);
    return 0;
}

const VMStateInfo vmstate_info_uint16 = {
    .name = "uint16",
    .get = get_uint16,
    .put = put_uint16,
};

static int get_uint32(QEMUFile *f, void *pv, size_t size, const VMStateField *field)
{
    (void)size;
    (void)field;
    qemu_get_be32s(f, pv);
    return 0;
}

static int put_uint32(QEMUFile *f, void *pv, size_t size, const VMStateField *field,
                      JSONWriter *vmdesc)
{
    (void)size;
    (void)field;
    (void)vmdesc;
    qemu_put_be32s(f, pv);
    return 0;
}

const VMStateInfo vmstate_info_uint32 = {
    .name = "uint32",
    .get = get_uint32,
    .put = put_uint32,
};

static int get_uint64(QEMUFile *f, void *pv, size_t size, const VMStateField *field)
{
    (void)size;
    (void)field;
    qemu_get_be64s(f, pv);
    return 0;
}

static int put_uint64(QEMUFile *f, void *pv, size_t size, const VMStateField *field,
                      JSONWriter *vmdesc)
{
    (void)size;
    (void)field;
    (void)vmdesc;
    qemu_put_be64s(f, pv);
    return 0;
}

const VMStateInfo vmstate_info_uint64 = {
    .name = "uint64",
    .get = get_uint64,
    .put = put_uint64,
};

static int get_buffer(QEMUFile *f, void *pv, size_t size, const VMStateField *field)
{
    (void)field;
    qemu_get_buffer(f, pv, size);
    return 0;
}

static int put_buffer(QEMUFile *f, void *pv, size_t size, const VMStateField *field,
                      JSONWriter *vmdesc)
{
    (void)field;
    (void)vmdesc;
    qemu_put_buffer(f, pv, size);
    return 0;
}

const VMStateInfo vmstate_info_buffer = {
    .name = "buffer",
    .get = get_buffer,
    .put = put_buffer,
};
