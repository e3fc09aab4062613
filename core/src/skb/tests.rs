//! Edge tests of every sk_buff operation, and a model-based property test.

use super::*;
use proptest::prelude::*;

type Small = PoolStorage<32, 16, 128, 4>;

fn storage() -> Box<Small> {
    Box::new(Small::new())
}

/// Every byte of the packet, across chunks.
fn bytes(pool: &SkbPool, skb: &impl SkbId) -> Vec<u8> {
    pool.chunks(skb).flatten().copied().collect()
}

fn filled(pool: &mut SkbPool, headroom: usize, payload: &[u8]) -> SkBuff {
    let skb = pool.alloc_with_headroom(OwnerId::SYSTEM, headroom).unwrap();
    assert_eq!(pool.append(&skb, payload).unwrap(), payload.len());
    skb
}

#[test]
fn alloc_until_empty_then_free_all() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(pool.alloc(OwnerId::SYSTEM).unwrap());
    }
    assert_eq!(pool.alloc(OwnerId::SYSTEM), Err(SkbError::NoBuffers));
    let s = pool.stats();
    assert_eq!((s.bufs_in_use, s.bufs_high_water, s.heads_in_use, s.alloc_failures), (16, 16, 16, 1));
    for skb in held.drain(..) {
        pool.free(skb);
    }
    let s = pool.stats();
    assert!(s.is_idle());
    assert_eq!(s.bufs_high_water, 16, "the high-water mark stays");
}

#[test]
fn heads_run_out_before_buffers_with_clones() {
    let mut st = Box::new(PoolStorage::<4, 4, 128, 1>::new());
    let mut pool = SkbPool::new(&mut st);
    let a = pool.alloc(OwnerId::SYSTEM).unwrap();
    let clones: Vec<_> = (0..3).map(|_| pool.clone(&a, OwnerId::SYSTEM).unwrap()).collect();
    assert_eq!(pool.clone(&a, OwnerId::SYSTEM), Err(SkbError::NoHeads));
    assert_eq!(pool.alloc(OwnerId::SYSTEM), Err(SkbError::NoHeads));
    assert_eq!(pool.stats().bufs_in_use, 1, "clones share the one buffer");
    clones.into_iter().for_each(|c| pool.free(c));
    pool.free(a);
    assert!(pool.stats().is_idle());
}

#[test]
fn alloc_sized_is_alloc_with_headroom_then_put() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let a = pool.alloc_sized(OwnerId::SYSTEM, 16, 100).unwrap();
    let b = pool.alloc_with_headroom(OwnerId::SYSTEM, 16).unwrap();
    pool.put(&b, 100).unwrap();
    for skb in [&a, &b] {
        assert_eq!((pool.headroom(skb), pool.len(skb), pool.tailroom(skb)), (16, 100, 12));
        assert_eq!(pool.truesize(skb), 128);
    }
    assert_eq!(pool.alloc_sized(OwnerId::SYSTEM, 129, 0), Err(SkbError::NoHeadroom));
    assert_eq!(pool.alloc_sized(OwnerId::SYSTEM, 16, 113), Err(SkbError::NoTailroom));
    assert_eq!(pool.stats().bufs_in_use, 2, "a refused allocation takes nothing");
    let full = pool.alloc_sized(OwnerId::SYSTEM, 0, 128).unwrap();
    assert_eq!(pool.tailroom(&full), 0);
    for skb in [a, b, full] {
        pool.free(skb);
    }
    assert!(pool.stats().is_idle());
}

#[test]
fn reserve_edges() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let skb = pool.alloc(OwnerId::SYSTEM).unwrap();
    assert_eq!(pool.reserve(&skb, 129), Err(SkbError::NoTailroom), "one past the end");
    pool.reserve(&skb, 128).unwrap();
    assert_eq!((pool.headroom(&skb), pool.tailroom(&skb)), (128, 0), "exact fit");
    let other = pool.alloc(OwnerId::SYSTEM).unwrap();
    pool.put_slice(&other, &[1]).unwrap();
    assert_eq!(pool.reserve(&other, 1), Err(SkbError::NotEmpty));
    pool.free(skb);
    pool.free(other);
}

#[test]
fn push_pull_put_edges() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let skb = pool.alloc_with_headroom(OwnerId::SYSTEM, 16).unwrap();
    assert_eq!(pool.len(&skb), 0);
    assert_eq!(pool.pull(&skb, 0), Ok(()), "pulling nothing from empty");
    assert_eq!(pool.pull(&skb, 1), Err(SkbError::TooShort), "pulling from empty");
    assert_eq!(pool.put(&skb, 113).err(), Some(SkbError::NoTailroom), "one past the tailroom");
    pool.put(&skb, 112).unwrap().fill(7);
    assert_eq!(pool.tailroom(&skb), 0);
    assert_eq!(pool.push(&skb, 17).err(), Some(SkbError::NoHeadroom));
    pool.push(&skb, 16).unwrap().copy_from_slice(&[9; 16]);
    assert_eq!(pool.headroom(&skb), 0);
    assert_eq!(pool.len(&skb), 128);
    assert_eq!(&pool.data(&skb)[..17], &[9; 16].iter().chain(&[7]).copied().collect::<Vec<_>>()[..]);
    assert_eq!(pool.pull(&skb, 129), Err(SkbError::TooShort), "one past the length");
    pool.pull(&skb, 128).unwrap();
    assert_eq!((pool.len(&skb), pool.headroom(&skb)), (0, 128), "pulled exactly empty");
    pool.free(skb);
    assert!(pool.stats().is_idle());
}

#[test]
fn trim_edges() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let payload: Vec<u8> = (0..=255).collect();
    let skb = filled(&mut pool, 0, &payload);
    assert_eq!(pool.chunk_count(&skb), 2);
    pool.trim(&skb, 1000).unwrap();
    assert_eq!(pool.len(&skb), 256, "trim above the length changes nothing");
    pool.trim(&skb, 200).unwrap();
    assert_eq!(bytes(&pool, &skb), &payload[..200]);
    pool.trim(&skb, 128).unwrap();
    assert_eq!(bytes(&pool, &skb), &payload[..128], "trim to a chunk boundary");
    assert_eq!(pool.chunk_count(&skb), 1, "the emptied chunk is freed");
    assert_eq!(pool.stats().bufs_in_use, 1);
    assert_eq!(pool.truesize(&skb), 128);
    pool.trim(&skb, 0).unwrap();
    assert_eq!(pool.len(&skb), 0);
    pool.free(skb);
    assert!(pool.stats().is_idle());
}

#[test]
fn writing_a_clone_copies_the_buffer() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let a = filled(&mut pool, 32, b"hello world");
    let b = pool.clone(&a, OwnerId::SYSTEM).unwrap();
    assert!(pool.is_cloned(&a) && pool.is_cloned(&b));
    assert_eq!(pool.stats().bufs_in_use, 1);
    pool.data_mut(&b).unwrap()[0] = b'j';
    assert_eq!(pool.stats().bufs_in_use, 2, "copy on write happened");
    assert_eq!(pool.data(&a), b"hello world");
    assert_eq!(pool.data(&b), b"jello world");
    assert!(!pool.is_cloned(&a) && !pool.is_cloned(&b));
    // A put on a shared buffer must not write into bytes another head may
    // own past its own tail: it copies too.
    let c = pool.clone(&a, OwnerId::SYSTEM).unwrap();
    pool.trim(&c, 5).unwrap();
    pool.put_slice(&c, b"!").unwrap();
    assert_eq!(pool.data(&c), b"hello!");
    assert_eq!(pool.data(&a), b"hello world");
    for s in [a, b, c] {
        pool.free(s);
    }
    assert!(pool.stats().is_idle());
}

#[test]
fn released_header_lets_one_clone_push_in_place() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let seg = filled(&mut pool, 64, b"payload");
    pool.header_release(&seg).unwrap();
    let tx1 = pool.clone(&seg, OwnerId::SYSTEM).unwrap();
    pool.push(&tx1, 20).unwrap().fill(0x45);
    assert_eq!(pool.stats().bufs_in_use, 1, "first clone pushed its header in place");
    let tx2 = pool.clone(&seg, OwnerId::SYSTEM).unwrap();
    pool.push(&tx2, 20).unwrap().fill(0x46);
    assert_eq!(pool.stats().bufs_in_use, 2, "a second header writer gets its own copy");
    assert_eq!(&pool.data(&tx1)[..20], &[0x45; 20]);
    assert_eq!(&pool.data(&tx2)[..20], &[0x46; 20]);
    assert_eq!(pool.data(&seg), b"payload");
    // The released original may not push in place any more.
    pool.push(&seg, 1).unwrap()[0] = 1;
    assert_eq!(pool.stats().bufs_in_use, 3);
    for s in [seg, tx1, tx2] {
        pool.free(s);
    }
    assert!(pool.stats().is_idle());
}

#[test]
fn copy_is_deep_and_keeps_header_offsets() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let payload: Vec<u8> = (0..300).map(|i| i as u8).collect();
    let a = filled(&mut pool, 40, &payload);
    pool.push(&a, 14).unwrap().fill(0xee);
    let mac = pool.data_offset(&a);
    pool.meta_mut(&a).unwrap().mac_header = mac;
    pool.pull(&a, 14).unwrap();
    let b = pool.copy(&a, OwnerId::SYSTEM).unwrap();
    assert_eq!(bytes(&pool, &b), payload);
    assert_eq!(pool.bytes_from(&b, pool.meta(&b).mac_header)[..14], [0xee; 14]);
    assert_eq!(pool.chunk_count(&b), pool.chunk_count(&a));
    assert!(!pool.is_cloned(&a));
    pool.write_at(&b, 0, &[0; 300]).unwrap();
    assert_eq!(bytes(&pool, &a), payload);
    pool.free(a);
    pool.free(b);
    assert!(pool.stats().is_idle());
}

#[test]
fn chain_reads_and_writes_across_buffer_boundaries() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let payload: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let skb = filled(&mut pool, 28, &payload);
    // 100 linear bytes after 28 of headroom, then 128-byte chunks.
    assert_eq!(pool.linear_len(&skb), 100);
    assert_eq!(pool.chunk_count(&skb), 9, "100 linear bytes, then 7 full chunks and one of 4 bytes");
    assert!(pool.is_nonlinear(&skb));
    assert_eq!(pool.tailroom(&skb), 0);
    for (off, len) in [(0, 1000), (99, 2), (100, 128), (227, 3), (999, 1), (0, 0), (1000, 0)] {
        let mut out = vec![0; len];
        pool.copy_to_slice(&skb, off, &mut out).unwrap();
        assert_eq!(out, payload[off..off + len], "read {len} at {off}");
    }
    let mut out = [0; 2];
    assert_eq!(pool.copy_to_slice(&skb, 999, &mut out), Err(SkbError::TooShort));
    let mut expect = payload.clone();
    expect[95..300].fill(0xab);
    pool.write_at(&skb, 95, &[0xab; 205]).unwrap();
    assert_eq!(bytes(&pool, &skb), expect);
    assert_eq!(pool.write_at(&skb, 990, &[0; 11]), Err(SkbError::TooShort));
    assert_eq!(pool.put(&skb, 1).err(), Some(SkbError::Nonlinear));
    pool.free(skb);
    assert!(pool.stats().is_idle());
}

#[test]
fn pull_across_chunks_frees_them() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let payload: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
    let skb = filled(&mut pool, 0, &payload);
    assert_eq!(pool.chunk_count(&skb), 5);
    pool.pull(&skb, 300).unwrap();
    assert_eq!(bytes(&pool, &skb), &payload[300..]);
    assert_eq!(pool.chunk_count(&skb), 3);
    assert_eq!(pool.stats().bufs_in_use, 3);
    assert_eq!(pool.truesize(&skb), 3 * 128);
    pool.pull(&skb, 84).unwrap();
    assert_eq!(bytes(&pool, &skb), &payload[384..], "pulled to a chunk boundary");
    pool.free(skb);
    assert!(pool.stats().is_idle());
}

#[test]
fn may_pull_and_linearize() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let a = filled(&mut pool, 0, &[1; 128]);
    let b = filled(&mut pool, 50, &[2; 60]);
    pool.append_skb(&a, b).unwrap();
    pool.meta_mut(&a).unwrap().network_header = 90;
    pool.pull(&a, 100).unwrap();
    assert_eq!(pool.linear_len(&a), 28);
    pool.may_pull(&a, 40).unwrap();
    assert_eq!(pool.linear_len(&a), 40);
    assert_eq!(pool.data_offset(&a), 88, "the tailroom was short: the bytes moved down by 12");
    assert_eq!(pool.meta(&a).network_header, 78, "with the header they still point at");
    assert_eq!(pool.bytes_from(&a, 78)[..10], [1; 10]);
    assert_eq!(bytes(&pool, &a), [[1u8; 28].as_slice(), &[2; 60]].concat());
    assert_eq!(pool.may_pull(&a, 89), Err(SkbError::TooShort));
    pool.linearize(&a).unwrap();
    assert!(!pool.is_nonlinear(&a));
    assert_eq!(pool.stats().bufs_in_use, 1, "the emptied chunk went back");
    pool.free(a);
    let big = filled(&mut pool, 0, &[3; 300]);
    assert_eq!(pool.linearize(&big), Err(SkbError::NoTailroom));
    assert_eq!(bytes(&pool, &big), [3; 300], "a failed linearize changes nothing");
    pool.free(big);
    assert!(pool.stats().is_idle());
}

#[test]
fn append_skb_concatenates_and_moves_the_charge() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let sock = pool.register_owner(10_000).unwrap();
    let a = pool.alloc(sock).unwrap();
    pool.put_slice(&a, b"first ").unwrap();
    let b = filled(&mut pool, 20, b"second");
    assert_eq!(pool.owner_stats(sock).unwrap().used, 128);
    pool.append_skb(&a, b).unwrap();
    assert_eq!(bytes(&pool, &a), b"first second");
    assert_eq!(pool.owner_stats(sock).unwrap().used, 256);
    let c = pool.alloc(OwnerId::SYSTEM).unwrap();
    pool.put_slice(&c, b"!").unwrap();
    assert!(pool.append_skb(&a.as_ref(), c).is_ok(), "a reference names the target as well");
    assert_eq!(bytes(&pool, &a), b"first second!");
    assert_eq!(pool.owner_stats(sock).unwrap().used, 384);
    pool.free(a);
    assert_eq!(pool.owner_stats(sock).unwrap().used, 0);
    assert!(pool.stats().is_idle());
}

#[test]
fn split_anywhere_shares_buffers_and_keeps_accounting() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let owner = pool.register_owner(100_000).unwrap();
    let payload: Vec<u8> = (0..700u32).map(|i| i as u8).collect();
    for at in [1, 40, 99, 100, 101, 227, 228, 600, 699] {
        let skb = pool.alloc_with_headroom(owner, 28).unwrap();
        pool.append(&skb, &payload).unwrap();
        pool.meta_mut(&skb).unwrap().mark = 7;
        let bufs = pool.stats().bufs_in_use;
        let tail = pool.split(&skb, at).unwrap();
        assert_eq!(bytes(&pool, &skb), &payload[..at], "head of a split at {at}");
        assert_eq!(bytes(&pool, &tail), &payload[at..], "tail of a split at {at}");
        assert_eq!(pool.stats().bufs_in_use, bufs, "no byte copied");
        assert_eq!(pool.meta(&tail).mark, 7);
        assert_eq!(pool.owner_stats(owner).unwrap().used, pool.truesize(&skb) + pool.truesize(&tail));
        pool.free(skb);
        pool.free(tail);
        assert_eq!(pool.owner_stats(owner).unwrap().used, 0);
    }
    let skb = filled(&mut pool, 0, &payload);
    assert_eq!(pool.split(&skb, 0).err(), Some(SkbError::TooShort));
    assert_eq!(pool.split(&skb, 700).err(), Some(SkbError::TooShort));
    pool.free(skb);
    assert!(pool.stats().is_idle());
}

#[test]
fn append_to_itself_is_refused() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let a = pool.alloc(OwnerId::SYSTEM).unwrap();
    let r = a.as_ref();
    let (e, a) = pool.append_skb(&r, a).unwrap_err();
    assert_eq!(e, SkbError::BadHandle);
    pool.free(a);
    assert!(pool.stats().is_idle());
}

#[test]
fn owner_limits_keep_one_owner_from_starving_others() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let greedy = pool.register_owner(4 * 128).unwrap();
    let modest = pool.register_owner(2 * 128).unwrap();
    let mut held = Vec::new();
    while let Ok(s) = pool.alloc(greedy) {
        held.push(s);
    }
    assert_eq!(held.len(), 4);
    assert_eq!(pool.alloc(greedy), Err(SkbError::OverLimit));
    held.push(pool.alloc(modest).unwrap());
    held.push(pool.alloc(modest).unwrap());
    let st_g = pool.owner_stats(greedy).unwrap();
    assert_eq!((st_g.used, st_g.peak, st_g.failures), (512, 512, 2));
    assert_eq!(pool.stats().limit_failures, 2);
    // Appending stops at the limit: partial progress, then an error.
    let s = pool.alloc(OwnerId::SYSTEM).unwrap();
    pool.charge(&s, modest).unwrap_err();
    pool.free(s);
    let first = held.remove(0);
    pool.put_slice(&first, &[0; 100]).unwrap();
    assert_eq!(pool.append(&first, &[1; 200]), Ok(28), "the tailroom fills, no chunk past the limit");
    assert_eq!(pool.append(&first, &[1; 10]), Err(SkbError::OverLimit));
    held.push(first);
    for s in held {
        pool.free(s);
    }
    assert_eq!(pool.owner_stats(greedy).unwrap().used, 0);
    assert!(pool.stats().is_idle());
}

/// A socket buffer's rule: a packet bigger than the whole limit goes into
/// an empty buffer, and nothing more until the buffer is below its limit.
#[test]
fn charge_within_admits_while_below_the_limit() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let sock = pool.register_owner(2 * 128).unwrap();
    let big = filled(&mut pool, 0, &[7; 3 * 128]);
    assert_eq!(pool.charge(&big, sock), Err(SkbError::OverLimit), "the hard cap refuses it");
    pool.charge_within(&big, sock).unwrap();
    assert_eq!(pool.owner_stats(sock).unwrap().used, 3 * 128, "past the limit by this one packet");
    let small = filled(&mut pool, 0, &[1; 10]);
    assert_eq!(pool.charge_within(&small, sock), Err(SkbError::OverLimit), "nothing more while over");
    pool.free(big);
    pool.charge_within(&small, sock).unwrap();
    pool.free(small);
    assert_eq!(pool.owner_stats(sock).unwrap().used, 0);
    assert!(pool.stats().is_idle());
}

#[test]
fn released_owner_lives_until_its_last_buffer_is_freed() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let ids: Vec<_> = (0..3).map(|_| pool.register_owner(1000).unwrap()).collect();
    assert_eq!(pool.register_owner(1), Err(SkbError::BadOwner), "4 slots, one is the system's");
    let s = pool.alloc(ids[0]).unwrap();
    pool.release_owner(ids[0]).unwrap();
    assert_eq!(pool.alloc(ids[0]), Err(SkbError::BadOwner), "a closing owner takes no new buffers");
    assert_eq!(pool.register_owner(1), Err(SkbError::BadOwner), "the closing slot is not reused yet");
    pool.free(s);
    assert!(pool.owner_stats(ids[0]).is_none());
    let again = pool.register_owner(1).unwrap();
    assert_eq!(again, ids[0]);
    assert_eq!(pool.release_owner(OwnerId::SYSTEM), Err(SkbError::BadOwner));
}

#[test]
fn stale_handles_are_refused() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let a = filled(&mut pool, 0, b"abc");
    let r = a.as_ref();
    pool.free(a);
    assert!(!pool.is_valid(&r));
    assert_eq!(pool.data(&r), b"");
    assert_eq!(pool.len(&r), 0);
    assert_eq!(pool.push(&r, 1).err(), Some(SkbError::BadHandle));
    assert_eq!(pool.clone(&r, OwnerId::SYSTEM), Err(SkbError::BadHandle));
    // The slot is reused; the old reference still does not see the new packet.
    let b = filled(&mut pool, 0, b"new");
    assert_eq!(b.as_ref().idx, r.idx);
    assert_eq!(pool.data(&r), b"");
    pool.free(b);
    assert!(pool.stats().is_idle());
}

#[test]
fn queue_operations() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let mut q = SkbQueue::new();
    assert!(q.pop_front(&mut pool).is_none() && q.pop_back(&mut pool).is_none());
    for i in 0..4u8 {
        let s = filled(&mut pool, 0, &[i]);
        q.push_back(&mut pool, s);
    }
    let s = filled(&mut pool, 0, &[9]);
    q.push_front(&mut pool, s);
    let order = |q: &SkbQueue, pool: &SkbPool| q.iter(pool).map(|r| pool.data(&r)[0]).collect::<Vec<_>>();
    assert_eq!(order(&q, &pool), [9, 0, 1, 2, 3]);
    // Unlink from the middle.
    let mid = q.iter(&pool).nth(2).unwrap();
    let one = q.unlink(&mut pool, mid).unwrap();
    assert_eq!(pool.data(&one), [1]);
    assert_eq!(q.unlink(&mut pool, mid).err(), Some(SkbError::NotQueued), "not queued any more");
    assert_eq!(order(&q, &pool), [9, 0, 2, 3]);
    // Insert beside an entry.
    let at = q.back(&pool).unwrap();
    q.insert_before(&mut pool, at, one).unwrap();
    let front = q.front(&pool).unwrap();
    let s = filled(&mut pool, 0, &[7]);
    q.insert_after(&mut pool, front, s).unwrap();
    assert_eq!(order(&q, &pool), [9, 7, 0, 2, 1, 3]);
    assert_eq!(q.len(), 6);
    assert_eq!(q.prev(&pool, q.back(&pool).unwrap()).map(|r| pool.data(&r)[0]), Some(1));
    // Splice.
    let mut other = SkbQueue::new();
    let s = filled(&mut pool, 0, &[42]);
    other.push_back(&mut pool, s);
    q.splice_front(&mut pool, &mut other);
    assert!(other.is_empty());
    let s = filled(&mut pool, 0, &[43]);
    other.push_back(&mut pool, s);
    q.splice_back(&mut pool, &mut other);
    assert_eq!(order(&q, &pool), [42, 9, 7, 0, 2, 1, 3, 43]);
    let last = q.pop_back(&mut pool).unwrap();
    assert_eq!(pool.data(&last), [43]);
    pool.free(last);
    q.purge(&mut pool);
    assert!(q.is_empty());
    assert!(pool.stats().is_idle());
}

#[test]
fn unlink_refuses_packets_off_the_queue() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let mut q = SkbQueue::new();
    let mut other = SkbQueue::new();
    let s = filled(&mut pool, 0, &[1]);
    let loose = pool.alloc(OwnerId::SYSTEM).unwrap();
    assert_eq!(q.unlink(&mut pool, loose.as_ref()).err(), Some(SkbError::NotQueued));
    other.push_back(&mut pool, s);
    let r = other.front(&pool).unwrap();
    assert_eq!(q.unlink(&mut pool, r).err(), Some(SkbError::NotQueued), "the end of another queue");
    other.purge(&mut pool);
    pool.free(loose);
    assert!(pool.stats().is_idle());
}

#[test]
fn from_parts_checks_shapes() {
    let mut heads = vec![Head::EMPTY; 8];
    let mut info = vec![BufInfo::EMPTY; 4];
    let mut data = vec![0u8; 4 * 256 - 1];
    let mut owners = vec![OwnerSlot::EMPTY; 2];
    let parts = PoolParts { heads: &mut heads, info: &mut info, data: &mut data, owners: &mut owners, buf_size: 256 };
    assert!(SkbPool::from_parts(parts).is_err());
    let mut data = vec![0u8; 4 * 256];
    let parts = PoolParts { heads: &mut heads, info: &mut info, data: &mut data, owners: &mut owners, buf_size: 256 };
    let mut pool = SkbPool::from_parts(parts).unwrap();
    let s = pool.alloc(OwnerId::SYSTEM).unwrap();
    assert_eq!(pool.tailroom(&s), 256);
    pool.free(s);
}

#[test]
fn ram_formula_matches_size_of() {
    fn check<const H: usize, const B: usize, const S: usize, const O: usize>() {
        let real = core::mem::size_of::<PoolStorage<H, B, S, O>>();
        let formula = PoolStorage::<H, B, S, O>::ram_bytes();
        assert!(real >= formula && real < formula + 8, "{H}/{B}/{S}/{O}: {real} vs {formula}");
        assert_eq!(formula, H * HEAD_BYTES + B * (S + BUF_INFO_BYTES) + O * OWNER_BYTES);
    }
    check::<32, 16, 128, 4>();
    check::<64, 32, 2048, 16>();
    check::<1, 1, 64, 1>();
    check::<257, 129, 1537, 3>();
    // The figures the README quotes for a firmware budget (the same on
    // thumbv7em, where u64 is 8-aligned too).
    assert_eq!((HEAD_BYTES, BUF_INFO_BYTES, OWNER_BYTES), (88, 8, 20));
}

/// One step of the property test: indices pick among live packets modulo
/// their number, so every generated sequence is meaningful.
#[derive(Clone, Debug)]
enum Op {
    Alloc(u8),
    Free(u8),
    Clone(u8),
    Copy(u8),
    Push(u8, u8),
    Pull(u8, u16),
    Put(u8, u8),
    Trim(u8, u16),
    Append(u8, u16),
    AppendSkb(u8, u8),
    WriteAt(u8, u16, u8),
    MayPull(u8, u8),
    HeaderRelease(u8),
    ExpandHead(u8, u8),
    Enqueue(u8, bool),
    Dequeue(bool),
    Unlink(u8),
    Splice,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<u8>().prop_map(Op::Alloc),
        2 => any::<u8>().prop_map(Op::Free),
        2 => any::<u8>().prop_map(Op::Clone),
        1 => any::<u8>().prop_map(Op::Copy),
        2 => (any::<u8>(), 0u8..80).prop_map(|(a, b)| Op::Push(a, b)),
        2 => (any::<u8>(), 0u16..400).prop_map(|(a, b)| Op::Pull(a, b)),
        2 => (any::<u8>(), 0u8..140).prop_map(|(a, b)| Op::Put(a, b)),
        1 => (any::<u8>(), 0u16..600).prop_map(|(a, b)| Op::Trim(a, b)),
        3 => (any::<u8>(), 0u16..500).prop_map(|(a, b)| Op::Append(a, b)),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::AppendSkb(a, b)),
        2 => (any::<u8>(), 0u16..600, 0u8..200).prop_map(|(a, b, c)| Op::WriteAt(a, b, c)),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::MayPull(a, b)),
        1 => any::<u8>().prop_map(Op::HeaderRelease),
        1 => (any::<u8>(), 0u8..140).prop_map(|(a, b)| Op::ExpandHead(a, b)),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(a, b)| Op::Enqueue(a, b)),
        2 => any::<bool>().prop_map(Op::Dequeue),
        1 => any::<u8>().prop_map(Op::Unlink),
        1 => Just(Op::Splice),
    ]
}

/// The model: every packet's expected bytes, loose or on one of two queues.
struct Model {
    loose: Vec<(SkBuff, Vec<u8>)>,
    queued: [std::collections::VecDeque<Vec<u8>>; 2],
    queues: [SkbQueue; 2],
    counter: u8,
}

impl Model {
    fn pick(&self, k: u8) -> Option<usize> {
        (!self.loose.is_empty()).then(|| usize::from(k) % self.loose.len())
    }

    fn next_byte(&mut self) -> u8 {
        self.counter = self.counter.wrapping_add(1);
        self.counter
    }
}

fn apply(pool: &mut SkbPool, m: &mut Model, op: &Op, owner: OwnerId) {
    match *op {
        Op::Alloc(h) => {
            if let Ok(s) = pool.alloc_with_headroom(owner, usize::from(h % 64)) {
                m.loose.push((s, Vec::new()));
            }
        }
        Op::Free(k) => {
            if let Some(i) = m.pick(k) {
                pool.free(m.loose.swap_remove(i).0);
            }
        }
        Op::Clone(k) | Op::Copy(k) => {
            if let Some(i) = m.pick(k) {
                let made = if matches!(op, Op::Clone(_)) {
                    pool.clone(&m.loose[i].0, owner)
                } else {
                    pool.copy(&m.loose[i].0, owner)
                };
                if let Ok(s) = made {
                    let b = m.loose[i].1.clone();
                    m.loose.push((s, b));
                }
            }
        }
        Op::Push(k, n) => {
            if let Some(i) = m.pick(k) {
                let v = m.next_byte();
                if let Ok(hdr) = pool.push(&m.loose[i].0, usize::from(n)) {
                    hdr.fill(v);
                    m.loose[i].1.splice(0..0, std::iter::repeat_n(v, usize::from(n)));
                }
            }
        }
        Op::Pull(k, n) => {
            if let Some(i) = m.pick(k) {
                let n = usize::from(n);
                match pool.pull(&m.loose[i].0, n) {
                    Ok(()) => drop(m.loose[i].1.drain(..n)),
                    Err(e) => assert_eq!((e, n > m.loose[i].1.len()), (SkbError::TooShort, true)),
                }
            }
        }
        Op::Put(k, n) => {
            if let Some(i) = m.pick(k) {
                let v = m.next_byte();
                if let Ok(t) = pool.put(&m.loose[i].0, usize::from(n)) {
                    t.fill(v);
                    m.loose[i].1.extend(std::iter::repeat_n(v, usize::from(n)));
                }
            }
        }
        Op::Trim(k, n) => {
            if let Some(i) = m.pick(k) {
                pool.trim(&m.loose[i].0, usize::from(n)).unwrap();
                m.loose[i].1.truncate(usize::from(n));
            }
        }
        Op::Append(k, n) => {
            if let Some(i) = m.pick(k) {
                let v = m.next_byte();
                let data = vec![v; usize::from(n)];
                if let Ok(done) = pool.append(&m.loose[i].0, &data) {
                    m.loose[i].1.extend_from_slice(&data[..done]);
                }
            }
        }
        Op::AppendSkb(a, b) => {
            if let (Some(i), Some(j)) = (m.pick(a), m.pick(b))
                && i != j
            {
                let (s, bytes) = m.loose.swap_remove(j);
                let i = if i == m.loose.len() { j } else { i };
                pool.append_skb(&m.loose[i].0, s).map_err(|(e, _)| e).unwrap();
                m.loose[i].1.extend_from_slice(&bytes);
            }
        }
        Op::WriteAt(k, off, n) => {
            if let Some(i) = m.pick(k) {
                let v = m.next_byte();
                let (off, n) = (usize::from(off), usize::from(n));
                match pool.write_at(&m.loose[i].0, off, &vec![v; n]) {
                    Ok(()) => m.loose[i].1[off..off + n].fill(v),
                    Err(SkbError::TooShort) => assert!(off + n > m.loose[i].1.len()),
                    Err(e) => assert!(matches!(e, SkbError::NoBuffers), "{e:?}"),
                }
            }
        }
        Op::MayPull(k, n) => {
            if let Some(i) = m.pick(k) {
                let n = usize::from(n);
                if pool.may_pull(&m.loose[i].0, n).is_ok() {
                    assert!(pool.linear_len(&m.loose[i].0) >= n);
                }
            }
        }
        Op::HeaderRelease(k) => {
            if let Some(i) = m.pick(k) {
                pool.header_release(&m.loose[i].0).unwrap();
            }
        }
        Op::ExpandHead(k, n) => {
            if let Some(i) = m.pick(k) {
                let n = usize::from(n);
                // The bytes stay what they were; only the headroom grows.
                if pool.expand_head(&m.loose[i].0, n).is_ok() {
                    assert!(pool.headroom(&m.loose[i].0) >= n);
                }
            }
        }
        Op::Enqueue(k, front) => {
            if let Some(i) = m.pick(k) {
                let (s, b) = m.loose.swap_remove(i);
                let q = usize::from(front);
                if front {
                    m.queues[q].push_front(pool, s);
                    m.queued[q].push_front(b);
                } else {
                    m.queues[q].push_back(pool, s);
                    m.queued[q].push_back(b);
                }
            }
        }
        Op::Dequeue(front) => {
            let q = usize::from(front);
            let got = if front { m.queues[q].pop_front(pool) } else { m.queues[q].pop_back(pool) };
            let want = if front { m.queued[q].pop_front() } else { m.queued[q].pop_back() };
            assert_eq!(got.is_some(), want.is_some());
            if let (Some(s), Some(b)) = (got, want) {
                m.loose.push((s, b));
            }
        }
        Op::Unlink(k) => {
            let q = usize::from(k % 2);
            if !m.queued[q].is_empty() {
                let pos = usize::from(k) % m.queued[q].len();
                let r = m.queues[q].iter(pool).nth(pos).unwrap();
                let s = m.queues[q].unlink(pool, r).unwrap();
                let b = m.queued[q].remove(pos).unwrap();
                m.loose.push((s, b));
            }
        }
        Op::Splice => {
            let [a, b] = &mut m.queues;
            a.splice_back(pool, b);
            let moved: Vec<_> = m.queued[1].drain(..).collect();
            m.queued[0].extend(moved);
        }
    }
}

/// Compare without printing kilobytes on failure.
fn same(got: &[u8], want: &[u8]) {
    let first_diff = got.iter().zip(want).position(|(a, b)| a != b);
    assert!(
        got.len() == want.len() && first_diff.is_none(),
        "len {} vs {}, first difference at {:?}",
        got.len(),
        want.len(),
        first_diff
    );
}

fn check_invariants(pool: &SkbPool, m: &Model, owner: OwnerId) {
    let mut heads = 0;
    let mut charged = 0;
    for (s, want) in &m.loose {
        same(&bytes(pool, s), want);
        assert_eq!(pool.len(s), want.len());
        heads += pool.chunk_count(s);
        charged += pool.truesize(s);
    }
    for (q, want) in m.queues.iter().zip(&m.queued) {
        assert_eq!(q.len(), want.len());
        for (r, w) in q.iter(pool).zip(want) {
            same(&bytes(pool, &r), w);
            heads += pool.chunk_count(&r);
            charged += pool.truesize(&r);
        }
    }
    let st = pool.stats();
    assert_eq!(usize::from(st.heads_in_use), heads);
    assert!(st.bufs_in_use <= st.heads_in_use);
    // Every buffer's counts are those of the heads that hold it.
    let mut refs = vec![(0u16, 0u16); pool.info.len()];
    for h in pool.heads.iter().filter(|h| h.buf != storage::NIL) {
        let r = &mut refs[usize::from(h.buf)];
        r.0 += 1;
        r.1 += u16::from(h.flags & storage::F_NOHDR != 0);
    }
    for (b, (info, want)) in pool.info.iter().zip(&refs).enumerate() {
        assert_eq!((info.refs, info.nohdr), *want, "buffer {b}: references and header releases");
    }
    assert_eq!(st.bad_handles, 0);
    assert_eq!(pool.owner_stats(owner).unwrap().used, charged);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    /// 10,000 random sequences of alloc / clone / push / pull / put / chain /
    /// enqueue / unlink / free: no panic, accounting invariants after every
    /// step, and a completely free pool at the end.
    #[test]
    fn random_sequences_keep_accounting(ops in proptest::collection::vec(op(), 1..60)) {
        let mut st = Box::new(PoolStorage::<24, 12, 128, 2>::new());
        let mut pool = SkbPool::new(&mut st);
        let owner = pool.register_owner(10 * 128).unwrap();
        let mut m = Model { loose: Vec::new(), queued: Default::default(), queues: [SkbQueue::new(), SkbQueue::new()], counter: 0 };
        for op in &ops {
            apply(&mut pool, &mut m, op, owner);
            check_invariants(&pool, &m, owner);
        }
        for (s, _) in m.loose.drain(..) {
            pool.free(s);
        }
        for q in &mut m.queues {
            q.purge(&mut pool);
        }
        prop_assert!(pool.stats().is_idle());
        prop_assert_eq!(pool.owner_stats(owner).unwrap().used, 0);
    }
}

/// Regression: pulling into a chunk that had released its header area
/// dropped that promise without its count on the buffer, so the count grew
/// past the buffer's references and a clone's write underflowed it.
#[test]
fn a_released_header_follows_its_buffer_into_the_first_head() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let a = pool.alloc(OwnerId::SYSTEM).unwrap();
    pool.put(&a, 10).unwrap().fill(7);
    for n in 1..=3 {
        pool.header_release(&a).unwrap();
        // No headroom: the released bytes become a chunk behind a fresh
        // head buffer, and the pull moves them back to the front.
        pool.expand_head(&a, n).unwrap();
        pool.pull(&a, 1).unwrap();
    }
    pool.header_release(&a).unwrap();
    let c = pool.clone(&a, OwnerId::SYSTEM).unwrap();
    pool.data_mut(&c).unwrap()[0] = 1;
    assert_eq!(pool.data(&a), [7; 7], "the clone's write went to its own copy");
    assert_eq!(pool.data(&c)[0], 1);
    pool.free(a);
    pool.free(c);
    assert!(pool.stats().is_idle());
}

#[test]
fn reserve_of_a_huge_length_is_refused() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let s = pool.alloc_with_headroom(OwnerId::SYSTEM, 16).unwrap();
    assert_eq!(pool.reserve(&s, usize::MAX), Err(SkbError::NoTailroom));
    assert_eq!(pool.headroom(&s), 16);
    pool.free(s);
}

/// Misused queues must not panic: a packet from the middle of another
/// queue unlinked here (the lengths go wrong, and stop at zero), and a
/// queue used with a pool it does not belong to (nothing is found).
#[test]
fn misused_queues_do_not_panic() {
    let mut st = storage();
    let mut pool = SkbPool::new(&mut st);
    let (mut q1, mut q2) = (SkbQueue::new(), SkbQueue::new());
    for b in [1u8, 2, 3] {
        let s = filled(&mut pool, 0, &[b]);
        q1.push_back(&mut pool, s);
    }
    let d = filled(&mut pool, 0, &[4]);
    q2.push_back(&mut pool, d);
    let middle = q1.next(&pool, q1.front(&pool).unwrap()).unwrap();
    let b = q2.unlink(&mut pool, middle).expect("not caught: the middle of another queue");
    assert_eq!(q2.len(), 0, "q2's length took the unlink");
    let d = q2.pop_front(&mut pool).expect("d is still at q2's head");
    assert_eq!(q2.len(), 0, "and stops at zero");
    for s in [b, d] {
        pool.free(s);
    }
    q1.purge(&mut pool);
    assert!(pool.stats().is_idle());

    // A queue of this pool, used with a smaller one.
    let mut tiny_st = Box::new(PoolStorage::<2, 2, 128, 1>::new());
    let mut tiny = SkbPool::new(&mut tiny_st);
    let held: Vec<_> = (0..10).map(|_| pool.alloc(OwnerId::SYSTEM).unwrap()).collect();
    let mut q = SkbQueue::new();
    let last = pool.alloc(OwnerId::SYSTEM).unwrap();
    q.push_back(&mut pool, last);
    assert_eq!(q.iter(&tiny).count(), 1, "walked without panic");
    assert!(q.front(&tiny).is_some_and(|r| tiny.len(&r) == 0));
    assert!(q.pop_front(&mut tiny).is_none(), "nothing of tiny's");
    q.purge(&mut pool);
    for s in held {
        pool.free(s);
    }
    assert!(pool.stats().is_idle());
}

/// Regression (found by the model test in CI): pulling a chunk's bytes into
/// the head moved its data down into the header area it had released, but
/// the buffer's floor stayed where the release put it. A clone pushing a
/// header then wrote in place over the original's first payload byte.
#[test]
fn a_pull_into_released_headroom_protects_the_moved_bytes() {
    let mut st = Box::new(PoolStorage::<24, 12, 128, 2>::new());
    let mut pool = SkbPool::new(&mut st);
    let a = pool.alloc_with_headroom(OwnerId::SYSTEM, 0).unwrap();
    pool.expand_head(&a, 1).unwrap();
    pool.header_release(&a).unwrap();
    let payload: Vec<u8> = (1..=89).collect();
    assert_eq!(pool.append(&a, &payload).unwrap(), 89);
    pool.may_pull(&a, 38).unwrap();
    let b = pool.clone(&a, OwnerId::SYSTEM).unwrap();
    pool.pull(&b, 1).unwrap();
    pool.push(&b, 1).unwrap().fill(0xee);
    assert_eq!(bytes(&pool, &a), payload, "the original is untouched");
    assert_eq!(bytes(&pool, &b)[0], 0xee);
    pool.free(a);
    pool.free(b);
    assert!(pool.stats().is_idle());
}
