//! Replay one input of the `tcp_conn` fuzz target, printing its program first:
//! `cargo run -p skbnet-tests --example tcp_conn_replay -- FILE`.

fn main() {
    let p = std::env::args().nth(1).unwrap();
    let data = std::fs::read(&p).unwrap();
    let d = skbnet_tests::fuzz_tcp::decode(&data);
    println!("{d:#?}");
    skbnet_tests::fuzz_tcp::run(&data);
}
