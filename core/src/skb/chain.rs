//! Packets larger than one buffer: a chain of chunks after the linear part
//! (Linux's `frag_list`). Reading, writing and copying across the chain,
//! appending bytes or whole packets (GRO, reassembly), cloning and copying.

use super::meta::{Checksum, OFFSET_UNSET};
use super::storage::{F_FRAG, F_NOHDR, Head, NIL};
use super::{OwnerId, SkBuff, SkbError, SkbId, SkbPool};

/// Iterator over the byte ranges of a packet: the linear part, then each
/// chunk. Made by [`SkbPool::chunks`].
pub struct Chunks<'p> {
    heads: &'p [Head],
    data: &'p [u8],
    buf_size: usize,
    idx: u16,
}

impl<'p> Iterator for Chunks<'p> {
    type Item = &'p [u8];

    fn next(&mut self) -> Option<&'p [u8]> {
        let h = self.heads.get(usize::from(self.idx))?;
        self.idx = h.frag;
        let start = usize::from(h.buf) * self.buf_size;
        self.data.get(start + usize::from(h.data)..start + usize::from(h.tail))
    }
}

impl SkbPool<'_> {
    /// The packet's byte ranges in order: linear part first, then each chunk.
    /// Their concatenation is the packet. A stale handle yields nothing.
    pub fn chunks(&self, skb: &impl SkbId) -> Chunks<'_> {
        let idx = self.slot(skb).map_or(NIL, |i| i as u16);
        Chunks { heads: self.heads, data: self.data, buf_size: self.buf_size(), idx }
    }

    /// Number of chunks (1 for a linear packet, 0 for a stale handle).
    pub fn chunk_count(&self, skb: &impl SkbId) -> usize {
        self.chunks(skb).count()
    }

    /// Copy `dst.len()` bytes starting `offset` bytes into the packet.
    pub fn copy_to_slice(&self, skb: &impl SkbId, offset: usize, dst: &mut [u8]) -> Result<(), SkbError> {
        let first = self.slot(skb).ok_or(SkbError::BadHandle)?;
        if let Some(at) = self.linear_at(first, offset, dst.len()) {
            dst.copy_from_slice(&self.buf_bytes(self.heads[first].buf)[at..at + dst.len()]);
            return Ok(());
        }
        if offset.checked_add(dst.len()).is_none_or(|end| end > self.len(skb)) {
            return Err(SkbError::TooShort);
        }
        let (mut skip, mut done) = (offset, 0);
        for chunk in self.chunks(skb) {
            if done == dst.len() {
                break;
            }
            if skip >= chunk.len() {
                skip -= chunk.len();
                continue;
            }
            let n = (chunk.len() - skip).min(dst.len() - done);
            dst[done..done + n].copy_from_slice(&chunk[skip..skip + n]);
            done += n;
            skip = 0;
        }
        Ok(())
    }

    /// Copy `len` bytes from `src` (from `src_off`) into `dst` (from
    /// `dst_off`), both packets of this pool, without a bounce buffer; `dst`
    /// chunks are un-shared as [`Self::write_at`] does. The ranges must lie
    /// inside both packets, and the packets must differ.
    pub fn copy_from_skb(
        &mut self,
        dst: &impl SkbId,
        dst_off: usize,
        src: &impl SkbId,
        src_off: usize,
        len: usize,
    ) -> Result<(), SkbError> {
        let (d, s) = (self.slot(dst).ok_or(SkbError::BadHandle)?, self.slot(src).ok_or(SkbError::BadHandle)?);
        let fits = |off: usize, total: usize| off.checked_add(len).is_some_and(|end| end <= total);
        if d == s {
            return Err(SkbError::BadHandle);
        }
        if !fits(dst_off, self.len(dst)) || !fits(src_off, self.len(src)) {
            return Err(SkbError::TooShort);
        }
        let (mut done, mut skip) = (0usize, dst_off);
        let mut c = d as u16;
        while c != NIL && done < len {
            let h = self.heads[usize::from(c)];
            let clen = usize::from(h.tail - h.data);
            if skip >= clen {
                skip -= clen;
                c = h.frag;
                continue;
            }
            let n = (clen - skip).min(len - done);
            self.make_writable_below(c, h.data + (skip + n) as u16)?;
            let buf = self.heads[usize::from(c)].buf;
            let at = usize::from(buf) * self.buf_size() + usize::from(h.data) + skip;
            self.copy_out_flat(src, src_off + done, at, n);
            done += n;
            skip = 0;
            c = h.frag;
        }
        Ok(())
    }

    /// Copy `n` bytes of packet `src` from `off` to absolute position `at`
    /// of the buffer memory (a range the caller made writable).
    fn copy_out_flat(&mut self, src: &impl SkbId, off: usize, mut at: usize, n: usize) {
        let (mut skip, mut left) = (off, n);
        let mut c = self.slot(src).map_or(NIL, |i| i as u16);
        while c != NIL && left > 0 {
            let h = self.heads[usize::from(c)];
            let clen = usize::from(h.tail - h.data);
            if skip < clen {
                let k = (clen - skip).min(left);
                let from = usize::from(h.buf) * self.buf_size() + usize::from(h.data) + skip;
                self.data.copy_within(from..from + k, at);
                at += k;
                left -= k;
                skip = 0;
            } else {
                skip -= clen;
            }
            c = h.frag;
        }
    }

    /// Overwrite `src.len()` bytes starting `offset` bytes into the packet,
    /// un-sharing each chunk it touches.
    pub fn write_at(&mut self, skb: &impl SkbId, offset: usize, src: &[u8]) -> Result<(), SkbError> {
        let first = self.slot(skb).ok_or(SkbError::BadHandle)? as u16;
        if let Some(at) = self.linear_at(usize::from(first), offset, src.len()) {
            // All in the linear part (a receive buffer, a header).
            self.make_writable_below(first, (at + src.len()) as u16)?;
            let buf = self.heads[usize::from(first)].buf;
            self.buf_bytes_mut(buf)[at..at + src.len()].copy_from_slice(src);
            return Ok(());
        }
        if offset.checked_add(src.len()).is_none_or(|end| end > self.len(skb)) {
            return Err(SkbError::TooShort);
        }
        let (mut skip, mut done, mut c) = (offset, 0, first);
        while c != NIL && done < src.len() {
            let (data, tail, frag) = {
                let h = &self.heads[usize::from(c)];
                (usize::from(h.data), usize::from(h.tail), h.frag)
            };
            let clen = tail - data;
            if skip >= clen {
                skip -= clen;
            } else {
                let n = (clen - skip).min(src.len() - done);
                self.make_writable_below(c, (data + skip + n) as u16)?;
                let buf = self.heads[usize::from(c)].buf;
                self.buf_bytes_mut(buf)[data + skip..data + skip + n].copy_from_slice(&src[done..done + n]);
                done += n;
                skip = 0;
            }
            c = frag;
        }
        Ok(())
    }

    /// Append a copy of `bytes` at the end of the packet, filling the last
    /// chunk's tailroom and then adding chunks charged to the packet's owner
    /// (how `tcp_sendmsg` fills a segment). Returns how many bytes were
    /// appended: all of them, or fewer when the pool or the owner's limit ran
    /// out part way; an error only when not one byte could be appended.
    pub fn append(&mut self, skb: &impl SkbId, bytes: &[u8]) -> Result<usize, SkbError> {
        self.extend(skb, bytes.len(), Some(bytes))
    }

    /// Grow the packet by `len` zero bytes at its end, across chunks as
    /// [`Self::append`] does, for a caller that fills them next (with
    /// [`Self::copy_from_skb`] or [`Self::write_at`]). All or nothing: on
    /// failure the packet is as it was.
    pub fn grow(&mut self, skb: &impl SkbId, len: usize) -> Result<(), SkbError> {
        let before = self.len(skb);
        match self.extend(skb, len, None) {
            Ok(n) if n == len => Ok(()),
            Ok(_) => {
                self.trim(skb, before)?;
                Err(SkbError::NoBuffers)
            }
            Err(e) => Err(e),
        }
    }

    /// Add `len` bytes at the end: copies of `bytes` or zeros.
    fn extend(&mut self, skb: &impl SkbId, len: usize, bytes: Option<&[u8]>) -> Result<usize, SkbError> {
        let first = self.slot(skb).ok_or(SkbError::BadHandle)? as u16;
        let mut last = self.last_chunk(first);
        let mut done = 0;
        if self.buf_exclusive(last) {
            done = self.fill_tail(first, last, bytes, len);
        }
        while done < len {
            let owner = OwnerId(self.heads[usize::from(first)].owner);
            let chunk = match self.new_chunk(owner) {
                Ok(c) => c,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            self.heads[usize::from(last)].frag = chunk;
            self.heads[usize::from(first)].truesize += u32::from(self.buf_size);
            last = chunk;
            done += self.fill_tail(first, last, bytes.map(|b| &b[done..]), len - done);
        }
        Ok(done)
    }

    /// Append packet `b` after packet `a` (GRO merging, reassembly): `b`'s
    /// chunks join `a`'s chain, `b`'s metadata is dropped, and its charge
    /// moves to `a`'s owner. On failure `b` comes back untouched.
    pub fn append_skb(&mut self, a: &impl SkbId, b: SkBuff) -> Result<(), (SkbError, SkBuff)> {
        let (Some(ai), Some(bi)) = (self.slot(a), self.slot(&b)) else {
            return Err((SkbError::BadHandle, b));
        };
        if ai == bi {
            return Err((SkbError::BadHandle, b));
        }
        let blen = self.len(&b) as u32;
        let (bowner, bsize) = (self.heads[bi].owner, self.heads[bi].truesize);
        self.clear_nohdr(bi as u16);
        let bh = &mut self.heads[bi];
        bh.flags = F_FRAG;
        bh.data_len = 0;
        bh.truesize = 0;
        bh.meta.reset_headers();
        let last = self.last_chunk(ai as u16);
        self.heads[usize::from(last)].frag = bi as u16;
        let ah = &mut self.heads[ai];
        ah.data_len += blen;
        ah.truesize += bsize;
        let aowner = ah.owner;
        self.charge_sub(bowner, bsize);
        self.charge_add(aowner, bsize);
        b.consumed();
        Ok(())
    }

    /// Cut the packet at byte `at` (`tcp_fragment`): `skb` keeps the first
    /// `at` bytes and the rest comes back as a new packet with the same
    /// metadata (header offsets forgotten) and owner. No byte is copied: a
    /// chunk cut in the middle is shared by both. Needs a free head when the
    /// cut falls inside a chunk.
    pub fn split(&mut self, skb: &impl SkbId, at: usize) -> Result<SkBuff, SkbError> {
        let first = self.slot(skb).ok_or(SkbError::BadHandle)? as u16;
        if at == 0 || at >= self.len(skb) {
            return Err(SkbError::TooShort);
        }
        // Find the chunk holding byte `at` and its predecessor.
        let (mut c, mut prev, mut off) = (first, NIL, 0usize);
        loop {
            let h = self.heads[usize::from(c)];
            let clen = usize::from(h.tail - h.data);
            if at < off + clen || h.frag == NIL {
                break;
            }
            off += clen;
            prev = c;
            c = h.frag;
        }
        let k = at - off;
        let new_first = if k == 0 && c != first {
            // A clean cut between chunks: the chunk becomes the new packet's head.
            self.heads[usize::from(prev)].frag = NIL;
            c
        } else {
            let h2 = self.alloc_head()?;
            let h = self.heads[usize::from(c)];
            self.share_buf(h2, h.buf);
            let n = &mut self.heads[usize::from(h2)];
            n.data = h.data + k as u16;
            n.tail = h.tail;
            n.frag = h.frag;
            let cut = &mut self.heads[usize::from(c)];
            cut.tail = h.data + k as u16;
            cut.frag = NIL;
            h2
        };
        let (meta, owner) = (self.heads[usize::from(first)].meta, self.heads[usize::from(first)].owner);
        let size = u32::from(self.buf_size);
        let count = |pool: &Self, start: u16| {
            let (mut i, mut n, mut bytes) = (pool.heads[usize::from(start)].frag, 0u32, 0u32);
            while i != NIL {
                let h = pool.heads[usize::from(i)];
                n += 1;
                bytes += u32::from(h.tail - h.data);
                i = h.frag;
            }
            (n, bytes)
        };
        let (old_chunks, old_bytes) = count(self, first);
        let (new_chunks, new_bytes) = count(self, new_first);
        let f = &mut self.heads[usize::from(first)];
        let old_truesize = f.truesize;
        f.data_len = old_bytes;
        f.truesize = (old_chunks + 1) * size;
        let freed = old_truesize.saturating_sub(f.truesize);
        let n = &mut self.heads[usize::from(new_first)];
        n.flags &= !F_FRAG;
        n.data_len = new_bytes;
        n.truesize = (new_chunks + 1) * size;
        n.meta = meta;
        n.meta.reset_headers();
        n.owner = owner;
        let (new_size, generation) = (n.truesize, n.generation);
        self.charge_sub(owner, freed);
        self.charge_add(owner, new_size);
        Ok(SkBuff { idx: new_first, generation })
    }

    /// A new packet that shares every buffer with `skb` (`skb_clone`): new
    /// heads, same bytes, same metadata, charged to `owner`.
    pub fn clone(&mut self, skb: &impl SkbId, owner: OwnerId) -> Result<SkBuff, SkbError> {
        self.duplicate(skb, owner, true)
    }

    /// A private deep copy of `skb` (`skb_copy`): the same chunk layout,
    /// headroom and header offsets, nothing shared, charged to `owner`.
    pub fn copy(&mut self, skb: &impl SkbId, owner: OwnerId) -> Result<SkBuff, SkbError> {
        self.duplicate(skb, owner, false)
    }

    /// Build a new chain mirroring `skb`'s, sharing its buffers (`share`) or
    /// copying them. On failure nothing is left allocated.
    fn duplicate(&mut self, skb: &impl SkbId, owner: OwnerId, share: bool) -> Result<SkBuff, SkbError> {
        let first = self.slot(skb).ok_or(SkbError::BadHandle)? as u16;
        let truesize = self.heads[usize::from(first)].truesize;
        self.charge_check(owner, truesize)?;
        let (mut src, mut prev, mut new_first) = (first, NIL, NIL);
        while src != NIL {
            let s = self.heads[usize::from(src)];
            let made = if share { self.alloc_head() } else { self.alloc_chunk() };
            let idx = match made {
                Ok(idx) => idx,
                Err(e) => {
                    if new_first != NIL {
                        self.free_chain(new_first);
                    }
                    return Err(e);
                }
            };
            if share {
                self.share_buf(idx, s.buf);
            } else {
                // The first chunk keeps its headroom bytes, so header offsets
                // that point below the data pointer still read the same bytes.
                let from = if src == first { 0 } else { usize::from(s.data) };
                let size = self.buf_size();
                let (sb, db) = (usize::from(s.buf) * size, usize::from(self.heads[usize::from(idx)].buf) * size);
                self.data.copy_within(sb + from..sb + usize::from(s.tail), db + from);
            }
            let h = &mut self.heads[usize::from(idx)];
            h.data = s.data;
            h.tail = s.tail;
            h.flags = s.flags & F_FRAG;
            if prev == NIL {
                new_first = idx;
            } else {
                self.heads[usize::from(prev)].frag = idx;
            }
            prev = idx;
            src = s.frag;
        }
        let s = self.heads[usize::from(first)];
        let h = &mut self.heads[usize::from(new_first)];
        h.data_len = s.data_len;
        h.truesize = s.truesize;
        h.meta = s.meta;
        h.owner = owner.0;
        let generation = h.generation;
        self.charge_add(owner.0, truesize);
        Ok(SkBuff { idx: new_first, generation })
    }

    /// Make sure the first `n` bytes are in the linear part
    /// (`pskb_may_pull`), moving bytes out of the chunks into the linear
    /// tailroom (shifting the linear bytes down into the headroom when the
    /// tailroom is short). Fails with [`SkbError::TooShort`] when the packet
    /// is shorter than `n`, and [`SkbError::NoTailroom`] when one buffer
    /// cannot hold `n` bytes.
    pub fn may_pull(&mut self, skb: &impl SkbId, n: usize) -> Result<(), SkbError> {
        let i = self.slot(skb).ok_or(SkbError::BadHandle)? as u16;
        let linear = self.linear_len(skb);
        if n <= linear {
            return Ok(());
        }
        if n > self.len(skb) {
            return Err(SkbError::TooShort);
        }
        self.make_linear_room(i, n - linear)?;
        let mut need = n - linear;
        while need > 0 {
            let c = self.heads[usize::from(i)].frag;
            if c == NIL {
                break;
            }
            let ch = self.heads[usize::from(c)];
            let k = need.min(usize::from(ch.tail - ch.data));
            let size = self.buf_size();
            let src = usize::from(ch.buf) * size + usize::from(ch.data);
            let h = self.heads[usize::from(i)];
            let dst = usize::from(h.buf) * size + usize::from(h.tail);
            self.data.copy_within(src..src + k, dst);
            self.heads[usize::from(i)].tail += k as u16;
            self.heads[usize::from(i)].data_len -= k as u32;
            self.heads[usize::from(c)].data += k as u16;
            if self.heads[usize::from(c)].data == ch.tail {
                self.heads[usize::from(i)].frag = ch.frag;
                self.free_head_only(c);
                self.uncharge_chunks(i, 1);
            }
            need -= k;
        }
        Ok(())
    }

    /// Make room for `need` more bytes after the tail of head `i`'s linear
    /// part, in a private buffer. When the tailroom is short, the bytes move
    /// toward the start of the buffer: with every header the packet still
    /// points at if the headroom below them allows, otherwise only the data,
    /// forgetting header offsets below it.
    fn make_linear_room(&mut self, i: u16, need: usize) -> Result<(), SkbError> {
        let h = self.heads[usize::from(i)];
        let (data, tail, size) = (usize::from(h.data), usize::from(h.tail), self.buf_size());
        if tail - data + need > size {
            return Err(SkbError::NoTailroom);
        }
        self.make_exclusive(i)?;
        if tail + need <= size {
            return Ok(());
        }
        // Copy-on-write may have moved the head to another buffer.
        let h = self.heads[usize::from(i)];
        let delta = tail + need - size;
        let m = h.meta;
        let csum_start = match m.csum {
            Checksum::Partial { start, .. } => start,
            _ => OFFSET_UNSET,
        };
        let offsets = [m.mac_header, m.network_header, m.transport_header, csum_start];
        let lowest = offsets.iter().map(|&o| usize::from(o)).filter(|&o| o < data).min().unwrap_or(data);
        let keep = if lowest >= delta { lowest } else { data };
        let base = usize::from(h.buf) * size;
        self.data.copy_within(base + keep..base + tail, base + keep - delta);
        let shift = |o: u16| match usize::from(o) {
            o if o == usize::from(OFFSET_UNSET) || o < keep => OFFSET_UNSET,
            o => (o - delta) as u16,
        };
        let h = &mut self.heads[usize::from(i)];
        h.data -= delta as u16;
        h.tail -= delta as u16;
        let (nohdr, buf, data) = (h.flags & F_NOHDR != 0, h.buf, h.data);
        if nohdr {
            // The data moved down into the header area this head released:
            // those bytes are in use now, and a later clone must not push
            // over them in place (the same rule as `push` below the floor).
            let info = &mut self.info[usize::from(buf)];
            info.floor = info.floor.min(data);
        }
        let h = &mut self.heads[usize::from(i)];
        h.meta.mac_header = shift(m.mac_header);
        h.meta.network_header = shift(m.network_header);
        h.meta.transport_header = shift(m.transport_header);
        if let Checksum::Partial { start, offset } = m.csum {
            h.meta.csum = match shift(start) {
                OFFSET_UNSET => Checksum::None,
                start => Checksum::Partial { start, offset },
            };
        }
        Ok(())
    }

    /// Move the whole packet into its first buffer (`skb_linearize`), if it fits.
    pub fn linearize(&mut self, skb: &impl SkbId) -> Result<(), SkbError> {
        let n = self.len(skb);
        self.may_pull(skb, n)
    }

    /// Advance into the chunks after the linear part was pulled away: `rest`
    /// more bytes go, chunk by chunk; the chunk that holds the new first byte
    /// becomes the linear part.
    pub(crate) fn pull_into_chunks(&mut self, first: u16, mut rest: usize) {
        let f = usize::from(first);
        loop {
            let c = self.heads[f].frag;
            if c == NIL {
                return;
            }
            let ch = self.heads[usize::from(c)];
            // The chunk's buffer reference moves to the first head, and with
            // it the chunk's header-release promise on that buffer (counted
            // in the buffer's `nohdr`); the first head's own goes with its
            // old buffer.
            self.put_buf(first);
            let h = &mut self.heads[f];
            h.flags = (h.flags & !F_NOHDR) | (ch.flags & F_NOHDR);
            h.buf = ch.buf;
            h.data = ch.data;
            h.tail = ch.tail;
            h.frag = ch.frag;
            h.data_len -= u32::from(ch.tail - ch.data);
            h.meta.reset_headers();
            self.release_head_slot(c);
            self.uncharge_chunks(first, 1);
            let clen = usize::from(ch.tail - ch.data);
            if rest <= clen {
                self.heads[f].data += rest as u16;
                return;
            }
            rest -= clen;
        }
    }

    /// Take `n` chunks off the first head's true size and its owner's charge.
    pub(crate) fn uncharge_chunks(&mut self, first: u16, n: u32) {
        let bytes = n * u32::from(self.buf_size);
        let h = &mut self.heads[usize::from(first)];
        h.truesize = h.truesize.saturating_sub(bytes);
        let owner = h.owner;
        self.charge_sub(owner, bytes);
    }

    /// Where in its buffer the `len` bytes at `offset` of head `first`'s
    /// linear part begin, if they lie inside it: the common case of the
    /// copies above, with no walk.
    fn linear_at(&self, first: usize, offset: usize, len: usize) -> Option<usize> {
        let h = &self.heads[first];
        let linear = usize::from(h.tail - h.data);
        offset.checked_add(len).filter(|&end| end <= linear).map(|_| usize::from(h.data) + offset)
    }

    /// The last chunk of the chain that starts at `first`.
    fn last_chunk(&self, first: u16) -> u16 {
        let mut c = first;
        while self.heads[usize::from(c)].frag != NIL {
            c = self.heads[usize::from(c)].frag;
        }
        c
    }

    /// A fresh empty chunk charged to `owner` (limit checked).
    fn new_chunk(&mut self, owner: OwnerId) -> Result<u16, SkbError> {
        self.charge_check(owner, u32::from(self.buf_size))?;
        let c = self.alloc_chunk()?;
        self.heads[usize::from(c)].flags = F_FRAG;
        self.charge_add(owner.0, u32::from(self.buf_size));
        Ok(c)
    }

    /// Put as much of `bytes` (or, without bytes, zeros) as fits, up to
    /// `len`, into chunk `c`'s tailroom (`c` must own its buffer) and account
    /// it on `first`. Returns bytes added.
    fn fill_tail(&mut self, first: u16, c: u16, bytes: Option<&[u8]>, len: usize) -> usize {
        let (buf, tail) = (self.heads[usize::from(c)].buf, usize::from(self.heads[usize::from(c)].tail));
        let n = (self.buf_size() - tail).min(len);
        let dst = &mut self.buf_bytes_mut(buf)[tail..tail + n];
        match bytes {
            Some(b) => dst.copy_from_slice(&b[..n]),
            None => dst.fill(0),
        }
        self.heads[usize::from(c)].tail += n as u16;
        if c != first {
            self.heads[usize::from(first)].data_len += n as u32;
        }
        n
    }

    /// Drop head `idx`'s header-release promise, keeping the buffer's count right.
    fn clear_nohdr(&mut self, idx: u16) {
        let h = &mut self.heads[usize::from(idx)];
        if h.flags & F_NOHDR != 0 {
            h.flags &= !F_NOHDR;
            let buf = h.buf;
            self.info[usize::from(buf)].nohdr -= 1;
        }
    }
}
