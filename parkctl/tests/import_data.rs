//! The import parser on real data: every ParkAPI GeoJSON file in
//! `tests/data/parkapi-lots/` (see its SOURCE.txt; copied unchanged, flaws
//! included), and the made-up CSV fixture `tests/data/import/lots.csv`.

use std::path::{Path, PathBuf};

use parkctl::import::{
    DEFAULT_TIMEZONE, ImportFile, ImportRow, Position, parse_csv, parse_geojson,
};
use parking_api::lots::{AmenityDto, Location};
use parking_api::spots::SpotKindDto;

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every ParkAPI file (`original/` and `new/`), by path, with what it parses to.
fn parkapi() -> Vec<(String, ImportFile)> {
    let root = data("parkapi-lots");
    let mut paths = Vec::new();
    for folder in ["original", "new"] {
        let dir = std::fs::read_dir(root.join(folder)).expect("parkapi-lots folder");
        for entry in dir {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|e| e == "geojson") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(&root)
                .expect("under the root")
                .display()
                .to_string();
            let file = parse_geojson(&read(&path), DEFAULT_TIMEZONE)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, file)
        })
        .collect()
}

fn row<'a>(files: &'a [(String, ImportFile)], external_id: &str) -> (&'a str, &'a ImportRow) {
    files
        .iter()
        .find_map(|(name, file)| {
            file.rows
                .iter()
                .find(|r| r.external_id == external_id)
                .map(|r| (name.as_str(), r))
        })
        .unwrap_or_else(|| panic!("no row {external_id}"))
}

fn rejected_because(files: &[(String, ImportFile)], reason: &str) -> Vec<(String, Position)> {
    files
        .iter()
        .flat_map(|(name, file)| {
            file.rejected
                .iter()
                .filter(|r| r.reason == reason)
                .map(|r| (name.clone(), r.position))
        })
        .collect()
}

#[test]
fn every_parkapi_file_is_read_with_exact_counts() {
    let files = parkapi();
    assert_eq!(files.len(), 31, "26 original + 5 new files (SOURCE.txt)");
    let total: usize = files.iter().map(|(_, f)| f.total()).sum();
    let rows: usize = files.iter().map(|(_, f)| f.rows.len()).sum();
    let rejected: usize = files.iter().map(|(_, f)| f.rejected.len()).sum();
    assert_eq!(total, 593, "lots in the 31 files");
    assert_eq!(rejected, 19, "4 without geometry + 15 without a capacity");
    assert_eq!(rows, 574);

    // The 4 features without geometry, each with its file and number.
    let no_geometry = rejected_because(&files, "no geometry");
    let expected = [
        ("original/dresden.geojson", 3),
        ("original/dresden.geojson", 33),
        ("original/hanau.geojson", 7),
        ("original/zuerich.geojson", 34),
    ]
    .map(|(f, n)| (f.to_owned(), Position::Feature(n)));
    assert_eq!(no_geometry, expected);
    // Without a capacity: 2 null, 13 zero (SOURCE.txt: 578 of 593 have one).
    let missing = rejected_because(&files, "capacity missing");
    let expected = [
        ("original/bonn.geojson", 9),
        ("original/oldenburg.geojson", 1),
    ]
    .map(|(f, n)| (f.to_owned(), Position::Feature(n)));
    assert_eq!(missing, expected);
    let zero = rejected_because(&files, "capacity is 0");
    assert_eq!(zero.len(), 13);
    let limburg = zero
        .iter()
        .filter(|(f, _)| f == "original/limburg.geojson")
        .count();
    assert_eq!(limburg, 8, "Limburg publishes no capacities");
    assert!(zero.contains(&("new/aachen.geojson".to_owned(), Position::Feature(5))));

    // The ids are unique across the data set, so one import of all is safe.
    let mut ids: Vec<&str> = files
        .iter()
        .flat_map(|(_, f)| f.rows.iter().map(|r| r.external_id.as_str()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 574);

    // SOURCE.txt: total capacity 200,030, of which the 4 lots without geometry
    // hold 580 (45 + 94 + 253 + 188).
    let capacity: u64 = files
        .iter()
        .flat_map(|(_, f)| &f.rows)
        .map(|r| u64::from(r.capacity()))
        .sum();
    assert_eq!(capacity, 200_030 - 580);

    // Every accepted row is a lot the server accepts, in the box SOURCE.txt
    // gives (there rounded to two decimals).
    for (name, file) in &files {
        for r in &file.rows {
            assert_eq!(r.lot.validate(), Ok(()), "{name} {}", r.position);
            let Location { lat, lng } = r.lot.location;
            assert!((47.35..=56.17).contains(&lat), "{name} {}", r.position);
            assert!((6.04..=13.89).contains(&lng), "{name} {}", r.position);
            assert_eq!(r.spots, [(SpotKindDto::Regular, r.capacity())]);
            assert_eq!(r.rate, None);
        }
    }
}

#[test]
fn known_parkapi_lots_come_through_as_published() {
    let files = parkapi();

    let (file, altmarkt) = row(&files, "dresdenaltmarkt");
    assert_eq!(file, "original/dresden.geojson");
    assert_eq!(altmarkt.position, Position::Feature(1));
    assert_eq!(altmarkt.lot.name, "Altmarkt");
    // Directions, height limit and contact lines are left out.
    assert_eq!(altmarkt.lot.address, "Altmarkt 1, 01067 Dresden");
    assert_eq!(
        altmarkt.lot.location,
        Location {
            lat: 51.0506700789,
            lng: 13.741789104
        }
    );
    assert_eq!(altmarkt.capacity(), 400);
    assert_eq!(altmarkt.lot.amenities, Some(vec![AmenityDto::Covered]));
    assert_eq!(altmarkt.lot.timezone, "Europe/Berlin");

    // DB BahnPark writes city / postcode / street.
    let (file, aschaffenburg) = row(&files, "db-100006");
    assert_eq!(file, "new/bahn.geojson");
    assert_eq!(
        aschaffenburg.lot.name,
        "Parkhaus Aschaffenburg Hauptbahnhof"
    );
    assert_eq!(
        aschaffenburg.lot.address,
        "Ludwigstraße, 63739 Aschaffenburg"
    );
    assert_eq!(aschaffenburg.capacity(), 459);

    let (_, basel) = row(&files, "baselparkhausbadbahnhof");
    assert_eq!(basel.lot.address, "Schwarzwaldstrasse 160, 4058 Basel");
    assert_eq!(basel.capacity(), 100);

    let (_, urania) = row(&files, "zuerichparkhausurania");
    assert_eq!(
        (
            urania.position,
            urania.lot.address.as_str(),
            urania.capacity()
        ),
        (Position::Feature(29), "Uraniastrasse 3", 607)
    );

    let (_, bruuns) = row(&files, "aarhusbruunsgalleri");
    assert_eq!(bruuns.lot.name, "Bruuns Galleri");
    assert_eq!(bruuns.capacity(), 967);
    assert_eq!(bruuns.lot.amenities, None, "a surface lot is not covered");

    // 36 of the accepted lots publish no address, so their name stands in; one
    // more publishes its name as its address.
    let named_addresses = files
        .iter()
        .flat_map(|(_, f)| &f.rows)
        .filter(|r| r.lot.address == r.lot.name)
        .count();
    assert_eq!(named_addresses, 36 + 1);
}

#[test]
fn the_csv_fixture_keeps_its_good_rows_and_explains_the_bad_ones() {
    let file = parse_csv(&read(&data("import/lots.csv")), DEFAULT_TIMEZONE).expect("readable");
    let accepted: Vec<(Position, &str)> = file
        .rows
        .iter()
        .map(|r| (r.position, r.external_id.as_str()))
        .collect();
    assert_eq!(
        accepted,
        [
            (Position::Line(2), "dd-altmarkt"),
            (Position::Line(3), "dd-messe"),
            (Position::Line(4), "dd-frauenkirche"),
            (Position::Line(15), "dd-wiesentor"),
        ]
    );
    let altmarkt = &file.rows[0];
    assert_eq!(
        altmarkt.spots,
        [
            (SpotKindDto::Regular, 370),
            (SpotKindDto::Accessible, 10),
            (SpotKindDto::Ev, 20)
        ]
    );
    assert_eq!(altmarkt.rate, Some(250));
    assert_eq!(file.rows[1].rate, Some(100));
    assert_eq!(file.rows[1].spots, [(SpotKindDto::Regular, 1400)]);
    let frauenkirche = &file.rows[2];
    assert_eq!(
        frauenkirche.lot.address,
        "An der Frauenkirche 12a, 01067 Dresden"
    );
    assert_eq!(
        frauenkirche.spots,
        [(SpotKindDto::Regular, 110), (SpotKindDto::Motorcycle, 10)]
    );
    assert_eq!(frauenkirche.rate, None);
    assert_eq!(file.rows[3].rate, Some(50));

    let rejected: Vec<String> = file.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(
        rejected,
        [
            "line 6: lat \"51,0456\" is not a number like 51.05",
            "line 7: latitude 95.5 is out of range (-90 to 90); longitude 200.25 is out of range (-180 to 180)",
            "line 8: name missing",
            "line 9: capacity is 0",
            "line 10: kinds sum to 45 but the capacity is 50",
            "line 11: kinds: unknown spot kind \"truck\" (regular, compact, accessible, ev, motorcycle)",
            "line 12: rate \"3,50\": write the decimals after a point, like 2.50",
            "line 13: external_id \"dd-altmarkt\" repeats the one at line 2",
            "line 14: 4 cells where the header has 8; lng missing; capacity missing",
        ]
    );
    assert_eq!(file.total(), 13);
}
