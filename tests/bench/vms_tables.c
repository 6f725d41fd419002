/*
 * The bench states as VMState tables, the way a QEMU device declares its migration
 * state, and the entry points of the VMState-style baseline (see vms.h):
 * vms_save_S writes S's record into a growing byte array through a QEMUFile,
 * vms_load_S reads one back (followed by the savevm section footer, as in a stream).
 */
#define _POSIX_C_SOURCE 200809L
#include "vms_tables.h"

#include <errno.h>

#define R(n) VMSTATE_UINT32(r##n, ScalarHeavy)

static const VMStateField scalar_heavy_fields[] = {
    R(0), R(1), R(2), R(3), R(4), R(5), R(6), R(7), R(8), R(9),
    R(10), R(11), R(12), R(13), R(14), R(15), R(16), R(17), R(18), R(19),
    R(20), R(21), R(22), R(23), R(24), R(25), R(26), R(27), R(28), R(29),
    R(30), R(31), R(32), R(33), R(34), R(35), R(36), R(37), R(38), R(39),
    R(40), R(41), R(42), R(43), R(44), R(45), R(46), R(47), R(48), R(49),
    R(50), R(51), R(52), R(53), R(54), R(55), R(56), R(57), R(58), R(59),
    R(60), R(61), R(62), R(63), R(64), R(65), R(66), R(67), R(68), R(69),
    R(70), R(71), R(72), R(73), R(74), R(75), R(76), R(77), R(78), R(79),
    R(80), R(81), R(82), R(83), R(84), R(85), R(86), R(87), R(88), R(89),
    R(90), R(91), R(92), R(93), R(94), R(95), R(96), R(97), R(98), R(99),
    VMSTATE_END_OF_LIST()
};

static const VMStateDescription vmstate_scalar_heavy = {
    .name = "ScalarHeavy",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = scalar_heavy_fields,
};

static const VMStateField buffer_heavy_fields[] = {
    VMSTATE_UINT32(status, BufferHeavy),
    VMSTATE_UINT32(index, BufferHeavy),
    VMSTATE_BUFFER(ram, BufferHeavy),
    VMSTATE_BUFFER(vram, BufferHeavy),
    VMSTATE_BUFFER(fifo, BufferHeavy),
    VMSTATE_BUFFER(rom, BufferHeavy),
    VMSTATE_END_OF_LIST()
};

static const VMStateDescription vmstate_buffer_heavy = {
    .name = "BufferHeavy",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = buffer_heavy_fields,
};

static const VMStateField ring_desc_fields[] = {
    VMSTATE_UINT64(addr, RingDesc),
    VMSTATE_UINT32(len, RingDesc),
    VMSTATE_UINT16(flags, RingDesc),
    VMSTATE_UINT16(next, RingDesc),
    VMSTATE_UINT8(status, RingDesc),
    VMSTATE_BOOL(valid, RingDesc),
    VMSTATE_END_OF_LIST()
};

static const VMStateDescription vmstate_ring_desc = {
    .name = "RingDesc",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = ring_desc_fields,
};

static const VMStateField ring_heavy_fields[] = {
    VMSTATE_STRUCT_ARRAY(ring, RingHeavy, 256, 0, vmstate_ring_desc, RingDesc),
    VMSTATE_UINT32(head, RingHeavy),
    VMSTATE_UINT32(tail, RingHeavy),
    VMSTATE_END_OF_LIST()
};

static const VMStateDescription vmstate_ring_heavy = {
    .name = "RingHeavy",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = ring_heavy_fields,
};

/* One QEMUFile, as one migration uses one for every device (QEMU allocates it once). */
static QEMUFile file;

static bool save(const VMStateDescription *vmsd, const void *obj, VmsChannel *out)
{
    int ret;

    out->len = 0;
    qemu_file_open(&file, out, true);
    ret = vmstate_save_state(&file, vmsd, (void *)obj, NULL);
    qemu_fflush(&file);
    return ret == 0 && qemu_file_get_error(&file) == 0;
}

static bool load(const VMStateDescription *vmsd, void *obj, const uint8_t *buf, size_t len)
{
    VmsChannel in = { .data = (uint8_t *)buf, .len = len };
    int ret;

    qemu_file_open(&file, &in, false);
    ret = vmstate_load_state(&file, vmsd, obj, vmsd->version_id);
    if (ret == 0 && qemu_get_byte(&file) != VMS_QEMU_VM_SECTION_FOOTER) {
        ret = -EINVAL; /* savevm's check_section_footer */
    }
    return ret == 0 && qemu_file_get_error(&file) == 0;
}

bool vms_save_ScalarHeavy(const ScalarHeavy *s, VmsChannel *out)
{
    return save(&vmstate_scalar_heavy, s, out);
}

bool vms_load_ScalarHeavy(ScalarHeavy *s, const uint8_t *buf, size_t len)
{
    return load(&vmstate_scalar_heavy, s, buf, len);
}

bool vms_save_BufferHeavy(const BufferHeavy *s, VmsChannel *out)
{
    return save(&vmstate_buffer_heavy, s, out);
}

bool vms_load_BufferHeavy(BufferHeavy *s, const uint8_t *buf, size_t len)
{
    return load(&vmstate_buffer_heavy, s, buf, len);
}

bool vms_save_RingHeavy(const RingHeavy *s, VmsChannel *out)
{
    return save(&vmstate_ring_heavy, s, out);
}

bool vms_load_RingHeavy(RingHeavy *s, const uint8_t *buf, size_t len)
{
    return load(&vmstate_ring_heavy, s, buf, len);
}
