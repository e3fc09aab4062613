//! First light for TCP: a connection between two namespaces moves bytes
//! both ways and closes.

use std::time::Duration;

use skbnet_tests::net::{PairConfig, pattern, with_pair};

#[test]
fn one_megabyte_each_way() {
    with_pair(PairConfig::default(), |p| {
        let l = p.listener(5000, 8);
        let (c, s) = p.connect_pair(l, 5000);
        let data = pattern(1 << 20, 1);
        let got = p.transfer(c, s, &data, Duration::from_secs(60));
        assert_eq!(got.len(), data.len());
        assert!(got == data, "bytes differ");
        let back = pattern(1 << 20, 2);
        let got = p.transfer(s, c, &back, Duration::from_secs(60));
        assert!(got == back, "bytes differ on the way back");
        p.w.close(c).unwrap();
        p.w.close(s).unwrap();
        p.w.close(l).unwrap();
        p.advance(Duration::from_secs(1));
        let a = p.w.stats(p.a).unwrap().tcp;
        eprintln!("a: {a:?}");
        eprintln!("b: {:?}", p.w.stats(p.b).unwrap().tcp);
    });
}
