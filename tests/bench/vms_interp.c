/*
 * The interpreter of the VMState-style baseline (see vms.h): QEMU 7.2's
 * migration/vmstate.c, modelled. One walk of the field table per description;
 * per field an existence check, the element count and size from the flags, then
 * per element a recursive description (VMS_STRUCT) or info->put / info->get
 * through its pointer; loads check the file's error after every element and look
 * for subsections (a peek at the next byte) after every description.
 */
#define _POSIX_C_SOURCE 200809L
#include "vms.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool vmstate_field_exists(const VMStateField *field, void *opaque, int version_id)
{
    return (field->field_exists && field->field_exists(opaque, version_id)) ||
           (!field->field_exists && field->version_id <= version_id);
}

static int vmstate_n_elems(void *opaque, const VMStateField *field)
{
    char *base = opaque;
    int n_elems = 1;

    if (field->flags & VMS_ARRAY) {
        n_elems = field->num;
    } else if (field->flags & VMS_VARRAY_INT32) {
        n_elems = *(int32_t *)(void *)(base + field->num_offset);
    } else if (field->flags & VMS_VARRAY_UINT32) {
        n_elems = (int)*(uint32_t *)(void *)(base + field->num_offset);
    } else if (field->flags & VMS_VARRAY_UINT16) {
        n_elems = *(uint16_t *)(void *)(base + field->num_offset);
    } else if (field->flags & VMS_VARRAY_UINT8) {
        n_elems = *(uint8_t *)(void *)(base + field->num_offset);
    }
    if (field->flags & VMS_MULTIPLY_ELEMENTS) {
        n_elems *= field->num;
    }
    return n_elems;
}

static int vmstate_size(void *opaque, const VMStateField *field)
{
    int size = (int)field->size;

    if (field->flags & VMS_VBUFFER) {
        size = *(int32_t *)(void *)((char *)opaque + field->size_offset);
        if (field->flags & VMS_MULTIPLY) {
            size *= (int)field->size;
        }
    }
    return size;
}

static bool vmstate_section_needed(const VMStateDescription *vmsd, void *opaque)
{
    return !vmsd->needed || vmsd->needed(opaque);
}

static int vmstate_subsection_save(QEMUFile *f, const VMStateDescription *vmsd, void *opaque,
                                   JSONWriter *vmdesc)
{
    const VMStateDescription *const *sub = vmsd->subsections;
    int ret = 0;

    while (sub && *sub) {
        if (vmstate_section_needed(*sub, opaque)) {
            const VMStateDescription *vmsdsub = *sub;
            uint8_t len = (uint8_t)strlen(vmsdsub->name);

            qemu_put_byte(f, VMS_QEMU_VM_SUBSECTION);
            qemu_put_byte(f, len);
            qemu_put_buffer(f, (const uint8_t *)vmsdsub->name, len);
            qemu_put_be32(f, (unsigned int)vmsdsub->version_id);
            ret = vmstate_save_state(f, vmsdsub, opaque, vmdesc);
            if (ret) {
                return ret;
            }
        }
        sub++;
    }
    return ret;
}

int vmstate_save_state_v(QEMUFile *f, const VMStateDescription *vmsd, void *opaque,
                         JSONWriter *vmdesc, int version_id)
{
    const VMStateField *field = vmsd->fields;
    int ret = 0;

    if (vmsd->pre_save) {
        ret = vmsd->pre_save(opaque);
        if (ret) {
            fprintf(stderr, "pre-save failed: %s\n", vmsd->name);
            return ret;
        }
    }
    while (field->name) {
        if (vmstate_field_exists(field, opaque, version_id)) {
            char *first_elem = (char *)opaque + field->offset;
            int i, n_elems = vmstate_n_elems(opaque, field);
            int size = vmstate_size(opaque, field);
            int64_t old_offset, written_bytes;

            if (field->flags & VMS_POINTER) {
                first_elem = *(char **)(void *)first_elem;
                assert(first_elem || !n_elems || !size);
            }
            for (i = 0; i < n_elems; i++) {
                char *curr_elem = first_elem + (ptrdiff_t)size * i;

                old_offset = qemu_file_total_transferred_fast(f);
                if (field->flags & VMS_ARRAY_OF_POINTER) {
                    assert(curr_elem);
                    curr_elem = *(char **)(void *)curr_elem;
                }
                if (field->flags & VMS_STRUCT) {
                    ret = vmstate_save_state(f, field->vmsd, curr_elem, vmdesc);
                } else if (field->flags & VMS_VSTRUCT) {
                    ret = vmstate_save_state_v(f, field->vmsd, curr_elem, vmdesc,
                                               field->struct_version_id);
                } else {
                    ret = field->info->put(f, curr_elem, (size_t)size, field, vmdesc);
                }
                if (ret) {
                    fprintf(stderr, "Save of field %s/%s failed\n", vmsd->name, field->name);
                    if (vmsd->post_save) {
                        vmsd->post_save(opaque);
                    }
                    return ret;
                }
                written_bytes = qemu_file_total_transferred_fast(f) - old_offset;
                (void)written_bytes; /* QEMU writes it into the JSON description */
            }
        } else if (field->flags & VMS_MUST_EXIST) {
            fprintf(stderr, "Output state validation failed: %s/%s\n", vmsd->name,
                    field->name);
            assert(!(field->flags & VMS_MUST_EXIST));
        }
        field++;
    }
    assert(field->flags == VMS_END);
    ret = vmstate_subsection_save(f, vmsd, opaque, vmdesc);
    if (vmsd->post_save) {
        int ps_ret = vmsd->post_save(opaque);

        if (!ret && ps_ret) {
            ret = ps_ret;
        }
    }
    return ret;
}

int vmstate_save_state(QEMUFile *f, const VMStateDescription *vmsd, void *opaque,
                       JSONWriter *vmdesc)
{
    return vmstate_save_state_v(f, vmsd, opaque, vmdesc, vmsd->version_id);
}

static const VMStateDescription *vmstate_get_subsection(const VMStateDescription *const *sub,
                                                        const char *idstr)
{
    while (sub && *sub) {
        if (strcmp(idstr, (*sub)->name) == 0) {
            return *sub;
        }
        sub++;
    }
    return NULL;
}

static int vmstate_subsection_load(QEMUFile *f, const VMStateDescription *vmsd, void *opaque)
{
    while (qemu_peek_byte(f, 0) == VMS_QEMU_VM_SUBSECTION) {
        char idstr[256];
        uint8_t *idstr_ret;
        int ret;
        uint8_t len;
        size_t size;
        unsigned int version_id;
        const VMStateDescription *sub_vmsd;

        len = (uint8_t)qemu_peek_byte(f, 1);
        if (len < strlen(vmsd->name) + 1) {
            return 0; /* a subsection's name is "section_name/a" */
        }
        size = qemu_peek_buffer(f, &idstr_ret, len, 2);
        if (size != len) {
            return 0;
        }
        memcpy(idstr, idstr_ret, size);
        idstr[size] = 0;
        if (strncmp(vmsd->name, idstr, strlen(vmsd->name)) != 0) {
            return 0;
        }
        sub_vmsd = vmstate_get_subsection(vmsd->subsections, idstr);
        if (sub_vmsd == NULL) {
            return -ENOENT;
        }
        qemu_file_skip(f, 1);
        qemu_file_skip(f, 1);
        qemu_file_skip(f, len);
        version_id = qemu_get_be32(f);
        ret = vmstate_load_state(f, sub_vmsd, opaque, (int)version_id);
        if (ret) {
            return ret;
        }
    }
    return 0;
}

int vmstate_load_state(QEMUFile *f, const VMStateDescription *vmsd, void *opaque,
                       int version_id)
{
    const VMStateField *field = vmsd->fields;
    int ret = 0;

    if (version_id > vmsd->version_id) {
        fprintf(stderr, "%s: incoming version_id %d is too new for local version_id %d\n",
                vmsd->name, version_id, vmsd->version_id);
        return -EINVAL;
    }
    if (version_id < vmsd->minimum_version_id) {
        fprintf(stderr, "%s: incoming version_id %d is too old for local minimum "
                "version_id %d\n", vmsd->name, version_id, vmsd->minimum_version_id);
        return -EINVAL;
    }
    if (vmsd->pre_load) {
        ret = vmsd->pre_load(opaque);
        if (ret) {
            return ret;
        }
    }
    while (field->name) {
        if (vmstate_field_exists(field, opaque, version_id)) {
            char *first_elem = (char *)opaque + field->offset;
            int i, n_elems = vmstate_n_elems(opaque, field);
            int size = vmstate_size(opaque, field);

            if (field->flags & VMS_POINTER) {
                first_elem = *(char **)(void *)first_elem;
                assert(first_elem || !n_elems || !size);
            }
            for (i = 0; i < n_elems; i++) {
                char *curr_elem = first_elem + (ptrdiff_t)size * i;

                if (field->flags & VMS_ARRAY_OF_POINTER) {
                    curr_elem = *(char **)(void *)curr_elem;
                }
                if (field->flags & VMS_STRUCT) {
                    ret = vmstate_load_state(f, field->vmsd, curr_elem,
                                             field->vmsd->version_id);
                } else if (field->flags & VMS_VSTRUCT) {
                    ret = vmstate_load_state(f, field->vmsd, curr_elem,
                                             field->struct_version_id);
                } else {
                    ret = field->info->get(f, curr_elem, (size_t)size, field);
                }
                if (ret >= 0) {
                    ret = qemu_file_get_error(f);
                }
                if (ret < 0) {
                    qemu_file_set_error(f, ret);
                    fprintf(stderr, "Failed to load %s:%s\n", vmsd->name, field->name);
                    return ret;
                }
            }
        } else if (field->flags & VMS_MUST_EXIST) {
            fprintf(stderr, "Input validation failed: %s/%s\n", vmsd->name, field->name);
            return -1;
        }
        field++;
    }
    assert(field->flags == VMS_END);
    ret = vmstate_subsection_load(f, vmsd, opaque);
    if (ret != 0) {
        qemu_file_set_error(f, ret);
        return ret;
    }
    if (vmsd->post_load) {
        ret = vmsd->post_load(opaque, version_id);
    }
    return ret;
}
