//! The sk_buff pool the way firmware holds it: storage in a `static`, the
//! pool handed a `&'static mut`, and (for a design that shares the pool with
//! an interrupt handler) the pool behind a `critical_section::Mutex`.

use core::cell::RefCell;

use critical_section::Mutex;
use skbnet::skb::{OwnerId, PoolStorage, SkBuff, SkbPool, SkbQueue};
use static_cell::StaticCell;

type Storage = PoolStorage<16, 8, 256, 4>;

#[test]
fn pool_over_static_storage() {
    static STORAGE: StaticCell<Storage> = StaticCell::new();
    let storage: &'static mut Storage = STORAGE.init(Storage::new());
    let mut pool: SkbPool<'static> = SkbPool::new(storage);
    let skb = pool.alloc_with_headroom(OwnerId::SYSTEM, 64).unwrap();
    pool.put_slice(&skb, b"firmware").unwrap();
    assert_eq!(pool.data(&skb), b"firmware");
    pool.free(skb);
    assert!(pool.stats().is_idle());
}

/// A stack that shares its pool with an interrupt handler keeps it in a
/// `critical_section::Mutex`; here a second thread plays the interrupt
/// (the `std` implementation of critical-section makes that sound).
#[test]
fn pool_shared_with_an_interrupt_through_critical_section() {
    static STORAGE: StaticCell<Storage> = StaticCell::new();
    static POOL: Mutex<RefCell<Option<SkbPool<'static>>>> = Mutex::new(RefCell::new(None));
    static RX: Mutex<RefCell<SkbQueue>> = Mutex::new(RefCell::new(SkbQueue::new()));
    let pool = SkbPool::new(STORAGE.init(Storage::new()));
    critical_section::with(|cs| POOL.borrow_ref_mut(cs).replace(pool));

    // "Interrupt": receive 100 frames into the pool and queue them.
    let irq = std::thread::spawn(|| {
        let mut dropped = 0;
        for i in 0..100u32 {
            // Real hardware would drop the frame when no buffer is free; this
            // one waits for the main loop so the test can count every frame.
            while !critical_section::with(|cs| {
                let mut pool = POOL.borrow_ref_mut(cs);
                let pool = pool.as_mut().unwrap();
                let Ok(skb) = pool.alloc(OwnerId::SYSTEM) else { return false };
                pool.put_slice(&skb, &i.to_be_bytes()).unwrap();
                RX.borrow_ref_mut(cs).push_back(pool, skb);
                true
            }) {
                dropped += 1;
                std::thread::yield_now();
            }
        }
        dropped
    });
    // "Main loop": drain and free what arrives, in order.
    let mut seen = Vec::new();
    while seen.len() < 100 {
        critical_section::with(|cs| {
            let mut pool = POOL.borrow_ref_mut(cs);
            let pool = pool.as_mut().unwrap();
            while let Some(skb) = RX.borrow_ref_mut(cs).pop_front(pool) {
                let skb: SkBuff = skb;
                seen.push(u32::from_be_bytes(pool.data(&skb).try_into().unwrap()));
                pool.free(skb);
            }
        });
        std::thread::yield_now();
    }
    let retries = irq.join().unwrap();
    println!("the interrupt found the pool full {retries} times");
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    critical_section::with(|cs| {
        let pool = POOL.borrow_ref(cs);
        let stats = pool.as_ref().unwrap().stats();
        assert!(stats.is_idle());
        assert!(stats.bufs_high_water <= 8);
    });
}
