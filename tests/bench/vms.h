/*
 * A VMState-style interpreter: the codec benchmark's model of what QEMU runs today
 * (tests/bench/bench_codec.py, `make bench`; checked by tests/test_bench_baselines.py).
 *
 * Written here from the facts of QEMU 7.2's migration/vmstate.c, vmstate-types.c and
 * qemu-file.c (not copied): a device state is a table of fields (name, offset, size,
 * info, flags, version_id, num, ...); the interpreter walks the table, checks each
 * field's existence (field_exists, else version_id) and calls the field's
 * info->put / info->get through a function pointer, once per element; the values go
 * byte by byte (qemu_put_be32 = 4 x qemu_put_byte) through a 32 KiB buffer that is
 * flushed into the channel when it fills (and at the end); loads peek for
 * subsections after every description (including each element of a struct array)
 * and check the file's error after every field.
 *
 * The code is split into translation units the way QEMU's is (vms_file.c is
 * qemu-file.c, vms_types.c is vmstate-types.c, vms_interp.c is vmstate.c), so the
 * compiler inlines across them no more than it does in QEMU.
 *
 * Left out, each making this model faster than QEMU: trace points, the JSON
 * description a precopy migration writes beside the stream (vmdesc is always NULL
 * here), rate limiting, and the savevm section header/footer around the record
 * (the loader reads one footer byte after the record, as savevm does, so the
 * subsection peek at the end of the record finds it).
 */
#ifndef BENCH_VMS_H
#define BENCH_VMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VMS_IO_BUF_SIZE 32768
#define VMS_MAX_IOV 64
#define VMS_QEMU_VM_SUBSECTION 0x05
#define VMS_QEMU_VM_SECTION_FOOTER 0x7e

/* The channel under a QEMUFile: a growing byte array (save) or a byte array (load). */
typedef struct VmsChannel {
    uint8_t *data;
    size_t len, cap; /* save: bytes written so far and capacity; load: input size */
    size_t pos;      /* load: next byte to read */
    bool footer;     /* load: the section footer byte after the record was read */
} VmsChannel;

typedef struct QEMUFile {
    VmsChannel *ioc;
    bool is_writable;
    int64_t rate_limit_used;
    int64_t total_transferred;
    int buf_index;
    int buf_size; /* 0 when writing */
    uint8_t buf[VMS_IO_BUF_SIZE];
    uint64_t may_free; /* a bitmap of VMS_MAX_IOV bits */
    struct iovec iov[VMS_MAX_IOV];
    unsigned int iovcnt;
    int last_error;
    bool shutdown;
} QEMUFile;

/* qemu-file.c */
void qemu_file_open(QEMUFile *f, VmsChannel *ioc, bool writable);
int qemu_file_get_error(QEMUFile *f);
void qemu_file_set_error(QEMUFile *f, int ret);
void qemu_fflush(QEMUFile *f);
void qemu_put_buffer(QEMUFile *f, const uint8_t *buf, size_t size);
void qemu_put_byte(QEMUFile *f, int v);
void qemu_put_be16(QEMUFile *f, unsigned int v);
void qemu_put_be32(QEMUFile *f, unsigned int v);
void qemu_put_be64(QEMUFile *f, uint64_t v);
void qemu_file_skip(QEMUFile *f, int size);
size_t qemu_peek_buffer(QEMUFile *f, uint8_t **buf, size_t size, size_t offset);
size_t qemu_get_buffer(QEMUFile *f, uint8_t *buf, size_t size);
int qemu_peek_byte(QEMUFile *f, int offset);
int qemu_get_byte(QEMUFile *f);
unsigned int qemu_get_be16(QEMUFile *f);
unsigned int qemu_get_be32(QEMUFile *f);
uint64_t qemu_get_be64(QEMUFile *f);
int64_t qemu_file_total_transferred_fast(QEMUFile *f);

/* qemu-file.h's inline wrappers */
static inline void qemu_put_8s(QEMUFile *f, const uint8_t *pv) { qemu_put_byte(f, *pv); }
static inline void qemu_put_be16s(QEMUFile *f, const uint16_t *pv) { qemu_put_be16(f, *pv); }
static inline void qemu_put_be32s(QEMUFile *f, const uint32_t *pv) { qemu_put_be32(f, *pv); }
static inline void qemu_put_be64s(QEMUFile *f, const uint64_t *pv) { qemu_put_be64(f, *pv); }
static inline void qemu_get_8s(QEMUFile *f, uint8_t *pv) { *pv = (uint8_t)qemu_get_byte(f); }
static inline void qemu_get_be16s(QEMUFile *f, uint16_t *pv) { *pv = (uint16_t)qemu_get_be16(f); }
static inline void qemu_get_be32s(QEMUFile *f, uint32_t *pv) { *pv = qemu_get_be32(f); }
static inline void qemu_get_be64s(QEMUFile *f, uint64_t *pv) { *pv = qemu_get_be64(f); }

/* vmstate.h */
typedef struct VMStateField VMStateField;
typedef struct VMStateDescription VMStateDescription;
typedef struct JSONWriter JSONWriter; /* never defined: vmdesc is always NULL here */

typedef struct VMStateInfo {
    const char *name;
    int (*get)(QEMUFile *f, void *pv, size_t size, const VMStateField *field);
    int (*put)(QEMUFile *f, void *pv, size_t size, const VMStateField *field,
               JSONWriter *vmdesc);
} VMStateInfo;

enum VMStateFlags {
    VMS_SINGLE = 0x001,
    VMS_POINTER = 0x002,
    VMS_ARRAY = 0x004,
    VMS_STRUCT = 0x008,
    VMS_VARRAY_INT32 = 0x010,
    VMS_BUFFER = 0x020,
    VMS_ARRAY_OF_POINTER = 0x040,
    VMS_VARRAY_UINT16 = 0x080,
    VMS_VBUFFER = 0x100,
    VMS_MULTIPLY = 0x200,
    VMS_VARRAY_UINT8 = 0x400,
    VMS_VARRAY_UINT32 = 0x800,
    VMS_MUST_EXIST = 0x1000,
    VMS_ALLOC = 0x2000,
    VMS_MULTIPLY_ELEMENTS = 0x4000,
    VMS_VSTRUCT = 0x8000,
    VMS_END = 0x10000,
};

struct VMStateField {
    const char *name;
    const char *err_hint;
    size_t offset;
    size_t size;
    size_t start;
    int num;
    size_t num_offset;
    size_t size_offset;
    const VMStateInfo *info;
    enum VMStateFlags flags;
    const VMStateDescription *vmsd;
    int version_id;
    int struct_version_id;
    bool (*field_exists)(void *opaque, int version_id);
};

struct VMStateDescription {
    const char *name;
    int version_id;
    int minimum_version_id;
    int (*pre_load)(void *opaque);
    int (*post_load)(void *opaque, int version_id);
    int (*pre_save)(void *opaque);
    int (*post_save)(void *opaque);
    bool (*needed)(void *opaque);
    const VMStateField *fields;
    const VMStateDescription *const *subsections;
};

/* vmstate-types.c */
extern const VMStateInfo vmstate_info_bool;
extern const VMStateInfo vmstate_info_uint8;
extern const VMStateInfo vmstate_info_uint16;
extern const VMStateInfo vmstate_info_uint32;
extern const VMStateInfo vmstate_info_uint64;
extern const VMStateInfo vmstate_info_buffer;

/* vmstate.c */
int vmstate_save_state(QEMUFile *f, const VMStateDescription *vmsd, void *opaque,
                       JSONWriter *vmdesc);
int vmstate_save_state_v(QEMUFile *f, const VMStateDescription *vmsd, void *opaque,
                         JSONWriter *vmdesc, int version_id);
int vmstate_load_state(QEMUFile *f, const VMStateDescription *vmsd, void *opaque,
                       int version_id);

/* vmstate.h's table macros (the subset the bench states use) */
#define VMS_FIELD_SIZE(_s, _f) sizeof(((_s *)0)->_f)
#define VMSTATE_SINGLE(_f, _s, _info, _type)                                    \
    { .name = #_f, .offset = offsetof(_s, _f), .size = sizeof(_type),           \
      .info = &(_info), .flags = VMS_SINGLE, .version_id = 0 }
#define VMSTATE_BOOL(_f, _s) VMSTATE_SINGLE(_f, _s, vmstate_info_bool, bool)
#define VMSTATE_UINT8(_f, _s) VMSTATE_SINGLE(_f, _s, vmstate_info_uint8, uint8_t)
#define VMSTATE_UINT16(_f, _s) VMSTATE_SINGLE(_f, _s, vmstate_info_uint16, uint16_t)
#define VMSTATE_UINT32(_f, _s) VMSTATE_SINGLE(_f, _s, vmstate_info_uint32, uint32_t)
#define VMSTATE_UINT64(_f, _s) VMSTATE_SINGLE(_f, _s, vmstate_info_uint64, uint64_t)
#define VMSTATE_BUFFER(_f, _s)                                                  \
    { .name = #_f, .offset = offsetof(_s, _f), .size = VMS_FIELD_SIZE(_s, _f),  \
      .info = &vmstate_info_buffer, .flags = VMS_BUFFER, .version_id = 0 }
#define VMSTATE_STRUCT_ARRAY(_f, _s, _n, _v, _vmsd, _type)                      \
    { .name = #_f, .offset = offsetof(_s, _f), .size = sizeof(_type),           \
      .num = (_n), .vmsd = &(_vmsd), .flags = VMS_STRUCT | VMS_ARRAY,           \
      .version_id = (_v) }
#define VMSTATE_END_OF_LIST() { .name = NULL, .flags = VMS_END }

#endif /* BENCH_VMS_H */
