//! Operations on the linear part of a packet: `skb_push`, `skb_pull`,
//! `skb_put`, `skb_trim`, `skb_reserve`, headroom and tailroom, and the
//! copy-on-write rules for shared buffers.

use super::storage::{F_FRAG, F_NOHDR, NIL};
use super::{OwnerId, SkbError, SkbId, SkbPool};

impl SkbPool<'_> {
    /// Total bytes of the packet (`skb->len`), linear part plus chunks.
    pub fn len(&self, skb: &impl SkbId) -> usize {
        self.slot(skb).map_or(0, |i| {
            let h = &self.heads[i];
            usize::from(h.tail - h.data) + h.data_len as usize
        })
    }

    /// Bytes in the linear part (`skb_headlen`).
    pub fn linear_len(&self, skb: &impl SkbId) -> usize {
        self.slot(skb).map_or(0, |i| usize::from(self.heads[i].tail - self.heads[i].data))
    }

    /// True when the packet has continuation chunks (`skb_is_nonlinear`).
    pub fn is_nonlinear(&self, skb: &impl SkbId) -> bool {
        self.slot(skb).is_some_and(|i| self.heads[i].frag != NIL)
    }

    /// Bytes free before the data (`skb_headroom`).
    pub fn headroom(&self, skb: &impl SkbId) -> usize {
        self.slot(skb).map_or(0, |i| usize::from(self.heads[i].data))
    }

    /// Bytes free after the tail of a linear packet (`skb_tailroom`); zero for
    /// a nonlinear one, as in Linux.
    pub fn tailroom(&self, skb: &impl SkbId) -> usize {
        match self.slot(skb) {
            Some(i) if self.heads[i].frag == NIL => self.buf_size() - usize::from(self.heads[i].tail),
            _ => 0,
        }
    }

    /// Offset of the data pointer from the start of the first buffer
    /// (`skb->data - skb->head`), the base of header offsets in [`super::Meta`].
    pub fn data_offset(&self, skb: &impl SkbId) -> u16 {
        self.slot(skb).map_or(0, |i| self.heads[i].data)
    }

    /// True when another head shares the first buffer (`skb_cloned`).
    pub fn is_cloned(&self, skb: &impl SkbId) -> bool {
        self.slot(skb).is_some_and(|i| !self.buf_exclusive(i as u16))
    }

    /// The linear bytes `[data, tail)`. A stale handle reads as empty.
    pub fn data(&self, skb: &impl SkbId) -> &[u8] {
        match self.slot(skb) {
            Some(i) => {
                let h = &self.heads[i];
                &self.buf_bytes(h.buf)[usize::from(h.data)..usize::from(h.tail)]
            }
            None => &[],
        }
    }

    /// The linear bytes from `offset` (relative to the start of the first
    /// buffer, like the header offsets in [`super::Meta`]) up to the tail:
    /// for reading a header that was already pulled, such as the MAC header.
    pub fn bytes_from(&self, skb: &impl SkbId, offset: u16) -> &[u8] {
        match self.slot(skb) {
            Some(i) => {
                let h = &self.heads[i];
                self.buf_bytes(h.buf).get(usize::from(offset)..usize::from(h.tail)).unwrap_or(&[])
            }
            None => &[],
        }
    }

    /// The linear bytes, for writing; un-shares the buffer first if a clone
    /// shares it (copy-on-write).
    pub fn data_mut(&mut self, skb: &impl SkbId) -> Result<&mut [u8], SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)?;
        let (data, tail) = (self.heads[i].data, self.heads[i].tail);
        self.make_writable_below(i as u16, tail)?;
        let buf = self.heads[i].buf;
        Ok(&mut self.buf_bytes_mut(buf)[usize::from(data)..usize::from(tail)])
    }

    /// Linear bytes from `offset` (a header offset, see [`Self::bytes_from`])
    /// to the tail, for writing; copy-on-write as [`Self::data_mut`].
    pub fn bytes_from_mut(&mut self, skb: &impl SkbId, offset: u16) -> Result<&mut [u8], SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)?;
        let tail = self.heads[i].tail;
        if offset > tail {
            return Err(SkbError::TooShort);
        }
        self.make_writable_below(i as u16, tail)?;
        let buf = self.heads[i].buf;
        Ok(&mut self.buf_bytes_mut(buf)[usize::from(offset)..usize::from(tail)])
    }

    /// Prepend `n` bytes (`skb_push`) and return them for the caller to fill
    /// with a header. Un-shares the buffer unless every other head that
    /// shares it released its header area ([`Self::header_release`]).
    pub fn push(&mut self, skb: &impl SkbId, n: usize) -> Result<&mut [u8], SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)?;
        let data = usize::from(self.heads[i].data);
        if n > data {
            return Err(SkbError::NoHeadroom);
        }
        self.make_writable_below(i as u16, data as u16)?;
        let new_data = (data - n) as u16;
        self.heads[i].data = new_data;
        let buf = self.heads[i].buf;
        if self.heads[i].flags & F_NOHDR != 0 {
            // A head that released its header area and writes below it
            // anyway (it may, while it has the buffer alone) now uses these
            // bytes: a later clone must not push over them in place.
            let info = &mut self.info[usize::from(buf)];
            info.floor = info.floor.min(new_data);
        }
        Ok(&mut self.buf_bytes_mut(buf)[data - n..data])
    }

    /// Make room for `n` bytes of headers in front of the data
    /// (`skb_cow_head`). When the first chunk has less headroom than that
    /// (a packet [`Self::split`] off at a chunk boundary starts at offset
    /// zero), its bytes become a chunk of their own and a fresh buffer that
    /// is all headroom becomes the first: no payload byte is copied. The
    /// packet's header offsets are forgotten.
    pub fn expand_head(&mut self, skb: &impl SkbId, n: usize) -> Result<(), SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)?;
        if usize::from(self.heads[i].data) >= n {
            return Ok(());
        }
        let size = self.buf_size();
        if n > size {
            return Err(SkbError::NoHeadroom);
        }
        let owner = OwnerId(self.heads[i].owner);
        self.charge_check(owner, size as u32)?;
        let x = self.alloc_head()?;
        let fresh = match self.alloc_buf() {
            Ok(b) => b,
            Err(e) => {
                self.release_head_slot(x);
                return Err(e);
            }
        };
        let h = self.heads[i];
        let moved = &mut self.heads[usize::from(x)];
        moved.buf = h.buf;
        moved.data = h.data;
        moved.tail = h.tail;
        moved.frag = h.frag;
        moved.flags = F_FRAG | (h.flags & F_NOHDR);
        let f = &mut self.heads[i];
        f.buf = fresh;
        f.data = size as u16;
        f.tail = size as u16;
        f.frag = x;
        f.flags &= !F_NOHDR;
        f.data_len += u32::from(h.tail - h.data);
        f.truesize += size as u32;
        f.meta.reset_headers();
        self.charge_add(owner.0, size as u32);
        Ok(())
    }

    /// Remove `n` bytes from the front (`skb_pull`, and `pskb_pull` across
    /// chunks: whole chunks that are pulled past are freed, and the first
    /// remaining chunk becomes the linear part, forgetting header offsets).
    pub fn pull(&mut self, skb: &impl SkbId, n: usize) -> Result<(), SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)?;
        if n > self.len(skb) {
            return Err(SkbError::TooShort);
        }
        let linear = usize::from(self.heads[i].tail - self.heads[i].data);
        if n <= linear {
            self.heads[i].data += n as u16;
            return Ok(());
        }
        self.pull_into_chunks(i as u16, n - linear);
        Ok(())
    }

    /// Append `n` bytes to a linear packet (`skb_put`) and return them for
    /// the caller to fill.
    pub fn put(&mut self, skb: &impl SkbId, n: usize) -> Result<&mut [u8], SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)?;
        if self.heads[i].frag != NIL {
            return Err(SkbError::Nonlinear);
        }
        let tail = usize::from(self.heads[i].tail);
        if n > self.buf_size() - tail {
            return Err(SkbError::NoTailroom);
        }
        self.make_writable_below(i as u16, (tail + n) as u16)?;
        self.heads[i].tail = (tail + n) as u16;
        let buf = self.heads[i].buf;
        Ok(&mut self.buf_bytes_mut(buf)[tail..tail + n])
    }

    /// Append a copy of `bytes` to a linear packet (`skb_put_data`).
    pub fn put_slice(&mut self, skb: &impl SkbId, bytes: &[u8]) -> Result<(), SkbError> {
        self.put(skb, bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    /// Reserve `n` bytes of headroom in an empty packet (`skb_reserve`).
    pub fn reserve(&mut self, skb: &impl SkbId, n: usize) -> Result<(), SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)?;
        let h = &self.heads[i];
        if h.tail != h.data || h.frag != NIL {
            return Err(SkbError::NotEmpty);
        }
        let data = usize::from(h.data).checked_add(n).ok_or(SkbError::NoTailroom)?;
        if data > self.buf_size() {
            return Err(SkbError::NoTailroom);
        }
        let h = &mut self.heads[i];
        h.data = data as u16;
        h.tail = data as u16;
        Ok(())
    }

    /// Shorten the packet to `len` bytes (`pskb_trim`), freeing chunks past
    /// the new end. A `len` at or above the current length changes nothing.
    pub fn trim(&mut self, skb: &impl SkbId, len: usize) -> Result<(), SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)?;
        let h = &mut self.heads[i];
        let linear = usize::from(h.tail - h.data);
        if len >= linear + h.data_len as usize {
            return Ok(());
        }
        if h.frag == NIL {
            // A linear packet (a receive buffer cut to what the device wrote).
            h.tail = h.data + len as u16;
            h.data_len = 0;
            return Ok(());
        }
        if len <= linear {
            self.heads[i].tail = self.heads[i].data + len as u16;
            self.heads[i].data_len = 0;
            let freed = self.cut_chain_after(i as u16);
            self.uncharge_chunks(i as u16, freed);
            return Ok(());
        }
        // Walk to the chunk that holds byte `len - 1` and cut after it.
        let mut rest = len - linear;
        let mut c = self.heads[i].frag;
        while c != NIL {
            let ch = &mut self.heads[usize::from(c)];
            let clen = usize::from(ch.tail - ch.data);
            if rest <= clen {
                ch.tail = ch.data + rest as u16;
                let freed = self.cut_chain_after(c);
                self.uncharge_chunks(i as u16, freed);
                break;
            }
            rest -= clen;
            c = ch.frag;
        }
        self.heads[i].data_len = (len - linear) as u32;
        Ok(())
    }

    /// Promise that this head will not read or write below its data pointer
    /// again (`skb_header_release`): a clone of it may then push headers into
    /// the shared headroom without copying. TCP does this for every segment
    /// on its write queue.
    pub fn header_release(&mut self, skb: &impl SkbId) -> Result<(), SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)?;
        let h = &mut self.heads[i];
        if h.flags & F_NOHDR == 0 {
            h.flags |= F_NOHDR;
            let info = &mut self.info[usize::from(h.buf)];
            info.nohdr += 1;
            info.floor = info.floor.min(h.data);
        }
        Ok(())
    }

    /// Make every buffer of the packet private to it (`skb_unshare`).
    pub fn unshare(&mut self, skb: &impl SkbId) -> Result<(), SkbError> {
        let mut c = self.slot(skb).ok_or(SkbError::BadHandle)? as u16;
        while c != NIL {
            self.make_exclusive(c)?;
            c = self.heads[usize::from(c)].frag;
        }
        Ok(())
    }

    /// Make head `idx`'s buffer private to it, copying if it is shared.
    pub(crate) fn make_exclusive(&mut self, idx: u16) -> Result<(), SkbError> {
        if self.buf_exclusive(idx) { Ok(()) } else { self.cow(idx) }
    }

    /// Make bytes of head `idx`'s buffer up to `end` writable in place:
    /// the buffer must be private, or every other head on it must have
    /// released its header area, this one must not have, and the bytes must
    /// lie below the lowest data pointer of those released heads. Otherwise
    /// the buffer is copied first.
    pub(crate) fn make_writable_below(&mut self, idx: u16, end: u16) -> Result<(), SkbError> {
        let h = &self.heads[usize::from(idx)];
        let info = &self.info[usize::from(h.buf)];
        let in_place = info.refs == 1
            || (h.flags & F_NOHDR == 0 && info.refs.checked_sub(info.nohdr) == Some(1) && end <= info.floor);
        if in_place { Ok(()) } else { self.cow(idx) }
    }

    /// Copy head `idx`'s buffer (up to its tail) into a fresh one and move
    /// the head onto it.
    pub(crate) fn cow(&mut self, idx: u16) -> Result<(), SkbError> {
        let fresh = self.alloc_buf()?;
        let (old, tail) = (self.heads[usize::from(idx)].buf, usize::from(self.heads[usize::from(idx)].tail));
        let size = self.buf_size();
        let src = usize::from(old) * size;
        self.data.copy_within(src..src + tail, usize::from(fresh) * size);
        self.put_buf(idx);
        self.heads[usize::from(idx)].buf = fresh;
        Ok(())
    }

    /// Free every chunk after head `idx`, end the chain there, and say how
    /// many chunks went (for the caller to uncharge on the first head).
    fn cut_chain_after(&mut self, idx: u16) -> u32 {
        let first_cut = core::mem::replace(&mut self.heads[usize::from(idx)].frag, NIL);
        let mut freed = 0u32;
        let mut c = first_cut;
        while c != NIL {
            freed += 1;
            c = self.heads[usize::from(c)].frag;
        }
        self.free_chain(first_cut);
        freed
    }
}
