//! Smoke: parse a file given by JOURNEY_SMOKE and print the tree.
#[test]
fn smoke() {
    let Ok(path) = std::env::var("JOURNEY_SMOKE") else {
        return;
    };
    let text = std::fs::read_to_string(path).expect("read");
    let p = journey_grammar::parse(&text);
    println!("{:#?}", p.errors);
    println!("{}", p.file.items.len());
    if std::env::var("JOURNEY_SMOKE_AST").is_ok() {
        println!("{:#?}", p.file);
    }
}
