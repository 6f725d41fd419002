/*
 * The QEMUFile of the VMState-style interpreter (see vms.h): QEMU 7.2's
 * migration/qemu-file.c, modelled. Writes go into f->buf and are queued as iovecs
 * (adjacent pieces coalesced); the buffer is flushed into the channel when it
 * fills, when the iovec array fills, and at the end. Reads refill f->buf from the
 * channel when a peek runs past the bytes buffered.
 */
#define _POSIX_C_SOURCE 200809L
#include "vms.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The channel: appends to a growing byte array, as a write to a file or socket would. */
static ssize_t channel_writev(VmsChannel *ioc, const struct iovec *iov, unsigned int n)
{
    size_t total = 0;

    for (unsigned int i = 0; i < n; i++) {
        total += iov[i].iov_len;
    }
    if (ioc->len + total > ioc->cap) {
        size_t cap = ioc->cap ? ioc->cap : 4096;
        uint8_t *data;

        while (cap < ioc->len + total) {
            cap *= 2;
        }
        data = realloc(ioc->data, cap);
        if (!data) {
            return -ENOMEM;
        }
        ioc->data = data;
        ioc->cap = cap;
    }
    for (unsigned int i = 0; i < n; i++) {
        memcpy(ioc->data + ioc->len, iov[i].iov_base, iov[i].iov_len);
        ioc->len += iov[i].iov_len;
    }
    return (ssize_t)total;
}

/* The channel: copies the record, then the savevm section footer that follows it in a
 * stream; 0 (end of file) after that. */
static ssize_t channel_read(VmsChannel *ioc, uint8_t *buf, size_t size)
{
    size_t n = ioc->len - ioc->pos;

    if (n > size) {
        n = size;
    }
    memcpy(buf, ioc->data + ioc->pos, n);
    ioc->pos += n;
    if (ioc->pos == ioc->len && n < size && !ioc->footer) {
        ioc->footer = true;
        buf[n++] = VMS_QEMU_VM_SECTION_FOOTER;
    }
    return (ssize_t)n;
}

void qemu_file_open(QEMUFile *f, VmsChannel *ioc, bool writable)
{
    f->ioc = ioc;
    f->is_writable = writable;
    f->rate_limit_used = 0;
    f->total_transferred = 0;
    f->buf_index = 0;
    f->buf_size = 0;
    f->may_free = 0;
    f->iovcnt = 0;
    f->last_error = 0;
    f->shutdown = false;
}

int qemu_file_get_error(QEMUFile *f)
{
    return f->last_error;
}

void qemu_file_set_error(QEMUFile *f, int ret)
{
    if (f->last_error == 0 && ret) {
        f->last_error = ret;
    }
}

static bool qemu_file_is_writable(QEMUFile *f)
{
    return f->is_writable;
}

void qemu_fflush(QEMUFile *f)
{
    ssize_t ret = 0;
    ssize_t expect = 0;

    if (!qemu_file_is_writable(f)) {
        return;
    }
    if (f->shutdown) {
        qemu_file_set_error(f, -EIO);
        return;
    }
    if (f->iovcnt > 0) {
        for (unsigned int i = 0; i < f->iovcnt; i++) {
            expect += (ssize_t)f->iov[i].iov_len;
        }
        ret = channel_writev(f->ioc, f->iov, f->iovcnt);
        f->may_free = 0; /* nothing queued here is guest RAM to release */
    }
    if (ret >= 0) {
        f->total_transferred += ret;
    }
    if (ret != expect) {
        qemu_file_set_error(f, ret < 0 ? (int)ret : -EIO);
    }
    f->buf_index = 0;
    f->iovcnt = 0;
}

static ssize_t qemu_fill_buffer(QEMUFile *f)
{
    int pending;
    ssize_t len;

    assert(!qemu_file_is_writable(f));
    pending = f->buf_size - f->buf_index;
    if (pending > 0) {
        memmove(f->buf, f->buf + f->buf_index, (size_t)pending);
    }
    f->buf_index = 0;
    f->buf_size = pending;
    if (f->shutdown) {
        return 0;
    }
    len = channel_read(f->ioc, f->buf + pending, (size_t)(VMS_IO_BUF_SIZE - pending));
    if (len > 0) {
        f->buf_size += (int)len;
        f->total_transferred += len;
    } else if (len == 0) {
        qemu_file_set_error(f, -EIO);
    } else {
        qemu_file_set_error(f, (int)len);
    }
    return len;
}

/* Queues `size` bytes at `buf`; 1 when that filled the iovec array and flushed it. */
static int add_to_iovec(QEMUFile *f, const uint8_t *buf, size_t size, bool may_free)
{
    if (f->iovcnt > 0 &&
        buf == (const uint8_t *)f->iov[f->iovcnt - 1].iov_base + f->iov[f->iovcnt - 1].iov_len &&
        may_free == (bool)((f->may_free >> (f->iovcnt - 1)) & 1)) {
        f->iov[f->iovcnt - 1].iov_len += size;
    } else {
        if (f->iovcnt >= VMS_MAX_IOV) {
            assert(qemu_file_get_error(f) || !qemu_file_is_writable(f));
            return 1;
        }
        if (may_free) {
            f->may_free |= (uint64_t)1 << f->iovcnt;
        }
        f->iov[f->iovcnt].iov_base = (void *)buf;
        f->iov[f->iovcnt++].iov_len = size;
    }
    if (f->iovcnt >= VMS_MAX_IOV) {
        qemu_fflush(f);
        return 1;
    }
    return 0;
}

static void add_buf_to_iovec(QEMUFile *f, size_t len)
{
    if (!add_to_iovec(f, f->buf + f->buf_index, len, false)) {
        f->buf_index += (int)len;
        if (f->buf_index == VMS_IO_BUF_SIZE) {
            qemu_fflush(f);
        }
    }
}

void qemu_put_buffer(QEMUFile *f, const uint8_t *buf, size_t size)
{
    size_t l;

    if (f->last_error) {
        return;
    }
    while (size > 0) {
        l = (size_t)(VMS_IO_BUF_SIZE - f->buf_index);
        if (l > size) {
            l = size;
        }
        memcpy(f->buf + f->buf_index, buf, l);
        f->rate_limit_used += (int64_t)l;
        add_buf_to_iovec(f, l);
        if (qemu_file_get_error(f)) {
            break;
        }
        buf += l;
        size -= l;
    }
}

void qemu_put_byte(QEMUFile *f, int v)
{
    if (f->last_error) {
        return;
    }
    f->buf[f->buf_index] = (uint8_t)v;
    f->rate_limit_used++;
    add_buf_to_iovec(f, 1);
}

void qemu_file_skip(QEMUFile *f, int size)
{
    if (f->buf_index + size <= f->buf_size) {
        f->buf_index += size;
    }
}

size_t qemu_peek_buffer(QEMUFile *f, uint8_t **buf, size_t size, size_t offset)
{
    ssize_t pending;
    size_t index;

    assert(!qemu_file_is_writable(f));
    assert(offset < VMS_IO_BUF_SIZE);
    assert(size <= VMS_IO_BUF_SIZE - offset);
    index = (size_t)f->buf_index + offset;
    pending = (ssize_t)f->buf_size - (ssize_t)index;
    while (pending < (ssize_t)size) {
        ssize_t received = qemu_fill_buffer(f);

        if (received <= 0) {
            break;
        }
        index = (size_t)f->buf_index + offset;
        pending = (ssize_t)f->buf_size - (ssize_t)index;
    }
    if (pending <= 0) {
        return 0;
    }
    if (size > (size_t)pending) {
        size = (size_t)pending;
    }
    *buf = f->buf + index;
    return size;
}

size_t qemu_get_buffer(QEMUFile *f, uint8_t *buf, size_t size)
{
    size_t pending = size;
    size_t done = 0;

    while (pending > 0) {
        size_t res;
        uint8_t *src;

        res = qemu_peek_buffer(f, &src, pending < VMS_IO_BUF_SIZE ? pending : VMS_IO_BUF_SIZE,
                               0);
        if (res == 0) {
            return done;
        }
        memcpy(buf, src, res);
        qemu_file_skip(f, (int)res);
        buf += res;
        pending -= res;
        done += res;
    }
    return done;
}

int qemu_peek_byte(QEMUFile *f, int offset)
{
    int index = f->buf_index + offset;

    assert(!qemu_file_is_writable(f));
    assert(offset < VMS_IO_BUF_SIZE);
    if (index >= f->buf_size) {
        qemu_fill_buffer(f);
        index = f->buf_index + offset;
        if (index >= f->buf_size) {
            return 0;
        }
    }
    return f->buf[index];
}

int qemu_get_byte(QEMUFile *f)
{
    int result = qemu_peek_byte(f, 0);

    qemu_file_skip(f, 1);
    return result;
}

int64_t qemu_file_total_transferred_fast(QEMUFile *f)
{
    int64_t ret = f->total_transferred;

    for (unsigned int i = 0; i < f->iovcnt; i++) {
        ret += (int64_t)f->iov[i].iov_len;
    }
    return ret;
}

void qemu_put_be16(QEMUFile *f, unsigned int v)
{
    qemu_put_byte(f, (int)(v >> 8));
    qemu_put_byte(f, (int)v);
}

void qemu_put_be32(QEMUFile *f, unsigned int v)
{
    qemu_put_byte(f, (int)(v >> 24));
    qemu_put_byte(f, (int)(v >> 16));
    qemu_put_byte(f, (int)(v >> 8));
    qemu_put_byte(f, (int)v);
}

void qemu_put_be64(QEMUFile *f, uint64_t v)
{
    qemu_put_be32(f, (unsigned int)(v >> 32));
    qemu_put_be32(f, (unsigned int)v);
}

unsigned int qemu_get_be16(QEMUFile *f)
{
    unsigned int v;

    v = (unsigned int)qemu_get_byte(f) << 8;
    v |= (unsigned int)qemu_get_byte(f);
    return v;
}

unsigned int qemu_get_be32(QEMUFile *f)
{
    unsigned int v;

    v = (unsigned int)qemu_get_byte(f) << 24;
    v |= (unsigned int)qemu_get_byte(f) << 16;
    v |= (unsigned int)qemu_get_byte(f) << 8;
    v |= (unsigned int)qemu_get_byte(f);
    return v;
}

uint64_t qemu_get_be64(QEMUFile *f)
{
    uint64_t v;

    v = (uint64_t)qemu_get_be32(f) << 32;
    v |= qemu_get_be32(f);
    return v;
}
