//! The seed catalogue: 8 categories of 30 products, generated from small word lists.
//!
//! Every product name is `adjective × style × noun` (e.g. "Heritage Enamelled Dutch Oven").
//! The generator is deterministic, so product 42 is the same product on every machine and in
//! every workshop: inventory seeds stock for ids 1..=240 and expects them to exist.

use tracedojo_kit::db::{Connection, Engine};
use tracedojo_kit::{Db, Statement};
use tracing::Instrument;

use crate::{store, words};

/// Products per category; 8 categories × 30 = the 240 ids the other services rely on.
pub const PRODUCTS_PER_CATEGORY: usize = 30;

/// One word that can start a product name, and how much it moves the price (in percent).
struct Adjective {
    word: &'static str,
    price_percent: i64,
}

/// A material or style, with the sentence that describes it.
struct Style {
    word: &'static str,
    blurb: &'static str,
    price_percent: i64,
}

/// A kind of product, its base price and the sentence that describes it.
struct Noun {
    word: &'static str,
    blurb: &'static str,
    base_cents: i64,
}

/// Everything needed to generate one category's 30 products.
pub struct CategorySeed {
    pub slug: &'static str,
    pub name: &'static str,
    /// The first part of every SKU in the category, e.g. `KIT` in `KIT-0001`.
    pub sku_prefix: &'static str,
    /// An emoji stands in for product photos, so the shop needs no external assets.
    pub image: &'static str,
    adjectives: [Adjective; 5],
    styles: [Style; 3],
    nouns: [Noun; 10],
    /// How the three words become a name; books and coffee are not named like saucepans.
    shape: fn(&str, &str, &str) -> String,
}

/// A generated product, before it has been stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedProduct {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub category: &'static str,
    pub price_cents: i64,
    pub image: &'static str,
}

/// "Heritage Enamelled Dutch Oven"
fn adjective_style_noun(adjective: &str, style: &str, noun: &str) -> String {
    format!("{adjective} {style} {noun}")
}

/// "The Pocket Atlas of Mountain Trails (Paperback)"
fn book_edition(adjective: &str, style: &str, noun: &str) -> String {
    format!("The {adjective} {noun} ({style})")
}

/// "Kenya Nyeri Light Roast Coffee, Whole Bean 1 kg"
fn coffee_bag(adjective: &str, style: &str, noun: &str) -> String {
    format!("{noun} {style} Coffee, {adjective}")
}

const fn adjective(word: &'static str, price_percent: i64) -> Adjective {
    Adjective {
        word,
        price_percent,
    }
}

const fn style(word: &'static str, price_percent: i64, blurb: &'static str) -> Style {
    Style {
        word,
        blurb,
        price_percent,
    }
}

const fn noun(word: &'static str, base_cents: i64, blurb: &'static str) -> Noun {
    Noun {
        word,
        blurb,
        base_cents,
    }
}

/// The categories in display order; product ids follow this order (kitchen is 1..=30).
// One product line per row reads better than rustfmt's one argument per line.
#[rustfmt::skip]
pub const CATEGORIES: [CategorySeed; 8] = [
    CategorySeed {
        slug: "kitchen",
        name: "Kitchen",
        sku_prefix: "KIT",
        image: "🍳",
        adjectives: [
            adjective("Classic", 100),
            adjective("Professional", 125),
            adjective("Everyday", 85),
            adjective("Heritage", 115),
            adjective("Chef's", 110),
        ],
        styles: [
            style("Cast-Iron", 100, "Cast iron holds heat evenly and only gets better with seasoning."),
            style("Stainless Steel", 115, "Tri-ply stainless steel heats quickly and goes in the dishwasher."),
            style("Enamelled", 125, "A glossy enamel coat means no seasoning and an easy clean-up."),
        ],
        nouns: [
            noun("Dutch Oven", 8900, "A heavy lidded pot for braises, stews and no-knead bread."),
            noun("Skillet", 3900, "A 10-inch pan that sears steak and bakes cornbread alike."),
            noun("Saucepan", 4500, "A 2-quart pan with a pouring lip for sauces, grains and custards."),
            noun("Stockpot", 6900, "An 8-quart pot for stocks, pasta and big-batch soups."),
            noun("Sauté Pan", 5900, "Straight sides and a wide base for shallow frying and pan sauces."),
            noun("Roasting Pan", 5400, "A deep pan with a rack for roasts, whole birds and vegetables."),
            noun("Griddle", 4900, "A flat double-burner surface for pancakes, smash burgers and flatbreads."),
            noun("Wok", 4200, "A round-bottomed pan for stir-fries, steaming and deep-frying."),
            noun("Braiser", 7900, "A shallow, wide pot that browns and then simmers in one vessel."),
            noun("Casserole Dish", 3600, "An oven-to-table dish for gratins, lasagne and cobblers."),
        ],
        shape: adjective_style_noun,
    },
    CategorySeed {
        slug: "garden",
        name: "Garden",
        sku_prefix: "GAR",
        image: "🌱",
        adjectives: [
            adjective("Heavy-Duty", 120),
            adjective("Ergonomic", 110),
            adjective("Classic", 100),
            adjective("Lightweight", 90),
            adjective("Heritage", 130),
        ],
        styles: [
            style("Stainless Steel", 110, "Stainless steel resists rust and slides cleanly through soil."),
            style("Carbon Steel", 100, "Hardened carbon steel keeps a sharp edge season after season."),
            style("Ash-Handled", 120, "A smooth FSC-certified ash handle absorbs shock and ages beautifully."),
        ],
        nouns: [
            noun("Hand Trowel", 1800, "A narrow blade for planting bulbs, seedlings and herbs."),
            noun("Hand Fork", 1700, "Three sturdy tines for loosening soil and lifting weeds."),
            noun("Pruning Shears", 2900, "Bypass blades for clean cuts on stems up to 2 cm thick."),
            noun("Hedge Shears", 4400, "Long wavy-edged blades that trim hedges and topiary."),
            noun("Border Spade", 4900, "A compact spade for digging in tight beds and borders."),
            noun("Digging Fork", 4700, "Four square tines that break up heavy clay and turn compost."),
            noun("Dutch Hoe", 3200, "A push hoe that slices weeds just below the surface."),
            noun("Leaf Rake", 2600, "A wide fan of tines that gathers leaves without scratching the lawn."),
            noun("Bulb Planter", 2200, "Lifts a neat plug of soil and is marked with depth rings."),
            noun("Weeding Knife", 1500, "A hooked blade for pulling weeds from between paving stones."),
        ],
        shape: adjective_style_noun,
    },
    CategorySeed {
        slug: "outdoor",
        name: "Outdoor",
        sku_prefix: "OUT",
        image: "⛺",
        adjectives: [
            adjective("Ultralight", 125),
            adjective("Rugged", 110),
            adjective("Packable", 95),
            adjective("Weatherproof", 115),
            adjective("Trail", 100),
        ],
        styles: [
            style("Ripstop Nylon", 100, "Ripstop nylon stops small tears from spreading and weighs next to nothing."),
            style("Waxed Canvas", 130, "Waxed cotton canvas sheds rain and wears in like an old jacket."),
            style("Recycled Polyester", 90, "Made from recycled plastic bottles, with a water-repellent finish."),
        ],
        nouns: [
            noun("Daypack", 6900, "A 22-litre pack with a padded laptop sleeve and a hip belt."),
            noun("Backpack", 14900, "A 45-litre pack with an adjustable back system for multi-day trips."),
            noun("Duffel Bag", 8900, "A 60-litre duffel with stowable shoulder straps."),
            noun("Hip Pack", 3400, "A small waist pack for keys, phone and a snack."),
            noun("Dry Bag", 2900, "A roll-top bag that keeps spare clothes dry in the canoe."),
            noun("Camp Tarp", 7900, "A 3 x 3 m tarp with eight tie-out points for shelter from sun and rain."),
            noun("Hammock", 5900, "A single hammock with tree straps that sets up in two minutes."),
            noun("Camp Chair", 6400, "A folding chair that packs down to the size of a water bottle."),
            noun("Bivy Sack", 11900, "A waterproof shell that turns a sleeping bag into a shelter."),
            noun("Tote Bag", 2400, "A roomy tote for market runs and beach days."),
        ],
        shape: adjective_style_noun,
    },
    CategorySeed {
        slug: "books",
        name: "Books",
        sku_prefix: "BOO",
        image: "📚",
        adjectives: [
            adjective("Complete", 120),
            adjective("Illustrated", 130),
            adjective("Pocket", 70),
            adjective("Essential", 100),
            adjective("Little", 80),
        ],
        styles: [
            style("Hardcover", 100, "A clothbound hardcover with a ribbon marker."),
            style("Paperback", 60, "A light paperback edition that fits in a coat pocket."),
            style("Spiral-Bound", 80, "Spiral-bound to lie flat on the counter or workbench."),
        ],
        nouns: [
            noun("Guide to Sourdough Baking", 3000, "From starter to crust: schedules, hydration tables and forty tested loaves."),
            noun("Atlas of Mountain Trails", 4500, "Maps and elevation profiles of 120 classic hikes."),
            noun("History of Coffee", 2800, "How a berry from Ethiopia reshaped trade, cafés and the working day."),
            noun("Field Guide to Garden Birds", 2600, "Identify 200 species by song, silhouette and plumage."),
            noun("Handbook of Woodworking", 3800, "Joints, finishes and tool care for the home workshop."),
            noun("Introduction to Astronomy", 3400, "Star charts and plain explanations of what you see on a clear night."),
            noun("Book of Houseplants", 2700, "Light, water and repotting advice for 150 indoor plants."),
            noun("Manual of Bicycle Repair", 2900, "Step-by-step fixes, from punctures to truing a wheel."),
            noun("Treasury of Folk Tales", 3200, "Stories from forty countries, retold for reading aloud."),
            noun("Cookbook of Weeknight Dinners", 3100, "Ninety recipes that reach the table in thirty minutes."),
        ],
        shape: book_edition,
    },
    CategorySeed {
        slug: "electronics",
        name: "Electronics",
        sku_prefix: "ELE",
        image: "🎧",
        adjectives: [
            adjective("Compact", 90),
            adjective("Pro", 140),
            adjective("Slim", 95),
            adjective("Studio", 125),
            adjective("Everyday", 80),
        ],
        styles: [
            style("Matte Black", 100, "A matte black finish that hides fingerprints."),
            style("Arctic White", 100, "A clean arctic white shell to suit a bright desk."),
            style("Graphite", 110, "An anodised graphite aluminium body."),
        ],
        nouns: [
            noun("Wireless Earbuds", 7900, "True wireless earbuds with 8 hours of battery and a charging case."),
            noun("Over-Ear Headphones", 14900, "Cushioned over-ear headphones with active noise cancelling."),
            noun("Bluetooth Speaker", 5900, "A splash-proof speaker with 360-degree sound and a 12-hour battery."),
            noun("Mechanical Keyboard", 9900, "Hot-swappable tactile switches and a detachable USB-C cable."),
            noun("Wireless Mouse", 3900, "A quiet-click mouse that pairs with three devices."),
            noun("HD Webcam", 6900, "1080p video with auto-focus and a privacy shutter."),
            noun("Power Bank", 4900, "A 20,000 mAh battery that charges a laptop over USB-C."),
            noun("USB-C Hub", 4400, "Seven ports: HDMI, Ethernet, SD and three USB-A."),
            noun("Smart Plug", 1900, "Schedule lamps and appliances from your phone."),
            noun("LED Desk Lamp", 5400, "Dimmable light with an adjustable colour temperature."),
        ],
        shape: adjective_style_noun,
    },
    CategorySeed {
        slug: "toys",
        name: "Toys",
        sku_prefix: "TOY",
        image: "🧸",
        adjectives: [
            adjective("Classic", 100),
            adjective("Montessori", 115),
            adjective("Deluxe", 140),
            adjective("Mini", 70),
            adjective("Giant", 150),
        ],
        styles: [
            style("Rainbow", 100, "Painted in bright, non-toxic water-based colours."),
            style("Pastel", 100, "Finished in soft pastel tones."),
            style("Natural Wood", 110, "Left unpainted to show the grain of sustainably grown beech."),
        ],
        nouns: [
            noun("Building Blocks", 3400, "Sixty solid blocks in five shapes for towers, bridges and castles."),
            noun("Train Set", 4900, "Magnetic carriages and a figure-of-eight track."),
            noun("Stacking Rings", 1900, "Graduated rings that teach size and order."),
            noun("Jigsaw Puzzle", 1600, "A chunky 24-piece puzzle for small hands."),
            noun("Shape Sorter", 2400, "A box with six shapes to post through matching holes."),
            noun("Pull-Along Dog", 2200, "A wobbly dachshund on wheels that follows toddlers around."),
            noun("Marble Run", 5900, "Ramps, funnels and a spiral tower to build in endless layouts."),
            noun("Dollhouse", 12900, "A three-storey house with furniture and a working lift."),
            noun("Xylophone", 2900, "Eight tuned bars and two mallets."),
            noun("Abacus", 2100, "A hundred beads for early counting and colour games."),
        ],
        shape: adjective_style_noun,
    },
    CategorySeed {
        slug: "fashion",
        name: "Fashion",
        sku_prefix: "FAS",
        image: "👕",
        adjectives: [
            adjective("Relaxed", 100),
            adjective("Slim-Fit", 105),
            adjective("Classic", 100),
            adjective("Everyday", 85),
            adjective("Oversized", 110),
        ],
        styles: [
            style("Organic Cotton", 100, "Organic cotton, soft from the first wear and grown without synthetic pesticides."),
            style("Merino Wool", 180, "Fine merino wool regulates temperature and resists odour."),
            style("Linen", 140, "Breathable European linen that softens with every wash."),
        ],
        nouns: [
            noun("T-Shirt", 2900, "A midweight crew-neck tee with a taped neckline."),
            noun("Crew Sweater", 7900, "A rib-knit crew-neck sweater for layering."),
            noun("Cardigan", 8900, "A button-front cardigan with patch pockets."),
            noun("Hoodie", 6900, "A pullover hoodie with a kangaroo pocket."),
            noun("Overshirt", 7400, "A heavyweight shirt-jacket with two chest pockets."),
            noun("Polo Shirt", 4900, "A knitted polo with a three-button placket."),
            noun("Trousers", 8400, "Straight-leg trousers with a drawstring waist."),
            noun("Shorts", 4400, "Knee-length shorts with deep side pockets."),
            noun("Henley", 3900, "A long-sleeve henley with a four-button placket."),
            noun("Long-Sleeve Tee", 3400, "A long-sleeve tee cut slightly longer at the back."),
        ],
        shape: adjective_style_noun,
    },
    CategorySeed {
        slug: "coffee",
        name: "Coffee",
        sku_prefix: "COF",
        image: "☕",
        adjectives: [
            adjective("Whole Bean 250 g", 100),
            adjective("Whole Bean 1 kg", 320),
            adjective("Espresso Grind 250 g", 100),
            adjective("Filter Grind 250 g", 100),
            adjective("Whole Bean 500 g", 180),
        ],
        styles: [
            style("Light Roast", 100, "Roasted light to keep its bright acidity; best as pour-over."),
            style("Medium Roast", 100, "A medium roast that balances sweetness and body."),
            style("Dark Roast", 105, "Roasted dark for a heavy body and bittersweet chocolate; great as espresso."),
        ],
        nouns: [
            noun("Ethiopia Yirgacheffe", 1800, "Washed heirloom varieties with notes of jasmine, bergamot and lemon."),
            noun("Colombia Huila", 1500, "Notes of red apple, caramel and milk chocolate."),
            noun("Guatemala Antigua", 1600, "Grown on volcanic soil; cocoa, orange peel and brown sugar."),
            noun("Kenya Nyeri", 2000, "SL28 and SL34 from smallholder farms; blackcurrant and grapefruit."),
            noun("Brazil Cerrado", 1300, "Natural process; hazelnut, toffee and a low acidity."),
            noun("Sumatra Mandheling", 1600, "Wet-hulled; earthy, herbal and syrupy."),
            noun("Costa Rica Tarrazú", 1700, "Honey process; honey, peach and almond."),
            noun("Rwanda Huye", 1800, "Red bourbon from washing stations in the south; cranberry and black tea."),
            noun("Honduras Marcala", 1400, "Organic-certified; milk chocolate, plum and cane sugar."),
            noun("Peru Cajamarca", 1500, "High-altitude co-operative lots; walnut, cocoa and citrus."),
        ],
        shape: coffee_bag,
    },
];

/// All 240 products, ids 1..=240 in category order.
pub fn products() -> Vec<SeedProduct> {
    let mut products = Vec::with_capacity(CATEGORIES.len() * PRODUCTS_PER_CATEGORY);
    for category in &CATEGORIES {
        for index in 0..PRODUCTS_PER_CATEGORY {
            let id = products.len() as i64 + 1;
            products.push(product(category, index, id));
        }
    }
    products
}

/// The `index`-th product of a category. Each (noun, style) pair occurs exactly once, so
/// names never repeat; the adjective is spread so neighbours do not share one.
fn product(category: &CategorySeed, index: usize, id: i64) -> SeedProduct {
    let noun = &category.nouns[index % category.nouns.len()];
    let style = &category.styles[index / category.nouns.len()];
    let adjective = &category.adjectives
        [(index * 3 + index / category.nouns.len()) % category.adjectives.len()];
    let raw_cents = noun.base_cents * style.price_percent * adjective.price_percent / 10_000;
    SeedProduct {
        id,
        sku: format!("{}-{:04}", category.sku_prefix, index + 1),
        name: (category.shape)(adjective.word, style.word, noun.word),
        description: format!("{} {}", noun.blurb, style.blurb),
        category: category.slug,
        price_cents: shop_price(raw_cents),
        image: category.image,
    }
}

/// Rounds to whole dollars and takes a cent off: $117.48 becomes $116.99, as shops price.
fn shop_price(cents: i64) -> i64 {
    let dollars = ((cents + 50) / 100).max(1);
    dollars * 100 - 1
}

const INSERT_CATEGORY: &str =
    "INSERT INTO categories (slug, name, image, position) VALUES ($1, $2, $3, $4)";

/// `created_at` is spread over the weeks before the shop opened, one product every 6 hours,
/// so "newest first" has a stable, meaningful order.
const INSERT_PRODUCT: Statement = Statement::per_engine(
    "INSERT",
    "products",
    "INSERT INTO products (id, sku, name, description, category, price_cents, currency, image, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 'USD', $7, strftime('%Y-%m-%dT%H:%M:%SZ', '2025-01-06 09:00:00', '+' || ($1 * 6) || ' hours'))",
    "INSERT INTO products (id, sku, name, description, category, price_cents, currency, image, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 'USD', $7, to_char(timestamp '2025-01-06 09:00:00' \
     + make_interval(hours => ($1 * 6)::int), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))",
);

/// How many products there are, read inside the seed's transaction.
const COUNT_PRODUCTS: &str = "SELECT COUNT(*) FROM products";

/// Whether the search table has been filled (1) or not (0); a catalogue seeded before search
/// had its own table has products but no terms.
const ANY_SEARCH_TERM: &str =
    "SELECT COUNT(*) FROM (SELECT 1 FROM search_terms LIMIT 1) AS any_term";

/// What a product is found by: its texts and its category's name.
const SELECT_SEARCHABLE_TEXT: &str = "SELECT p.id, p.name, p.description, c.name FROM products p \
     JOIN categories c ON c.slug = p.category ORDER BY p.id";

/// All of one product's terms in one statement, as a JSON array: one round trip per product
/// rather than per term keeps the first start quick.
const INSERT_SEARCH_TERMS: Statement = Statement::per_engine(
    "INSERT",
    "search_terms",
    "INSERT INTO search_terms (term, product_id) SELECT value, $2 FROM json_each($1)",
    "INSERT INTO search_terms (term, product_id) SELECT jsonb_array_elements_text($1::jsonb), $2",
);

/// PostgreSQL plans from statistics its autovacuum gathers a while after big changes: gathered
/// at once after the seed, the search uses its index from the first request.
const ANALYZE: &str = "ANALYZE products, search_terms";

/// Fills an empty catalogue in one transaction, and the search terms of a catalogue that has
/// none yet; does nothing more if products already exist. Returns how many products were
/// inserted.
pub async fn seed_if_empty(db: &Db) -> Result<usize, sqlx::Error> {
    if store::count_products(db).await? > 0 {
        let indexed: i64 = sqlx::query_scalar(ANY_SEARCH_TERM)
            .fetch_one(db.pool())
            .await?;
        if indexed == 0 {
            async {
                let mut tx = db.begin_write().await?;
                let terms = index_products(db.engine(), tx.conn()).await?;
                tx.commit().await?;
                analyze(db).await?;
                tracing::info!(
                    tracedojo.search.term_count = terms as i64,
                    "filled the search terms of the catalogue"
                );
                Ok::<_, sqlx::Error>(())
            }
            .instrument(tracing::info_span!("index catalog"))
            .await?;
        }
        return Ok(0);
    }
    // One span for the whole seed: a span per inserted row would bury the interesting ones.
    async {
        let products = products();
        let mut tx = db.begin_write().await?;
        // Replicas starting together on one empty PostgreSQL database: one seeds, the others
        // wait for it, then find the catalogue there.
        tx.lock_named("tracedojo seed catalog").await?;
        let existing: i64 = sqlx::query_scalar(COUNT_PRODUCTS)
            .fetch_one(tx.conn())
            .await?;
        if existing > 0 {
            tx.rollback().await?;
            return Ok(0);
        }
        for (position, category) in CATEGORIES.iter().enumerate() {
            sqlx::query(INSERT_CATEGORY)
                .bind(category.slug)
                .bind(category.name)
                .bind(category.image)
                .bind(position as i64)
                .execute(tx.conn())
                .await?;
        }
        for product in &products {
            sqlx::query(INSERT_PRODUCT.text_for(db.engine()))
                .bind(product.id)
                .bind(&product.sku)
                .bind(&product.name)
                .bind(&product.description)
                .bind(product.category)
                .bind(product.price_cents)
                .bind(product.image)
                .execute(tx.conn())
                .await?;
        }
        let terms = index_products(db.engine(), tx.conn()).await?;
        tx.commit().await?;
        analyze(db).await?;
        tracing::info!(
            tracedojo.product.count = products.len() as i64,
            tracedojo.product.category_count = CATEGORIES.len() as i64,
            tracedojo.search.term_count = terms as i64,
            "seeded the catalogue"
        );
        Ok(products.len())
    }
    .instrument(tracing::info_span!("seed catalog"))
    .await
}

/// Gathers the planner's statistics on PostgreSQL (SQLite plans without them).
async fn analyze(db: &Db) -> Result<(), sqlx::Error> {
    if db.engine() == Engine::Postgres {
        sqlx::query(ANALYZE).execute(db.pool()).await?;
    }
    Ok(())
}

/// Stores every product's search terms (see [`crate::words`]); returns how many rows.
async fn index_products(engine: Engine, conn: &mut Connection) -> Result<usize, sqlx::Error> {
    let texts: Vec<(i64, String, String, String)> = sqlx::query_as(SELECT_SEARCHABLE_TEXT)
        .fetch_all(&mut *conn)
        .await?;
    let mut rows = 0;
    for (id, name, description, category) in &texts {
        let terms = words::terms([name.as_str(), description, category]);
        rows += terms.len();
        let terms = serde_json::Value::from_iter(terms).to_string();
        sqlx::query(INSERT_SEARCH_TERMS.text_for(engine))
            .bind(terms)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn generates_240_unique_products_with_ids_in_order() {
        let products = products();
        assert_eq!(products.len(), 240);
        for (index, product) in products.iter().enumerate() {
            assert_eq!(product.id, index as i64 + 1);
        }
        let names: HashSet<_> = products.iter().map(|p| &p.name).collect();
        let skus: HashSet<_> = products.iter().map(|p| &p.sku).collect();
        assert_eq!(names.len(), 240, "product names must be unique");
        assert_eq!(skus.len(), 240, "SKUs must be unique");
        assert_eq!(products[0].sku, "KIT-0001");
        assert_eq!(products[239].sku, "COF-0030");
    }

    #[test]
    fn is_deterministic_and_priced_like_a_shop() {
        assert_eq!(products(), products());
        for product in products() {
            assert!(product.price_cents > 0);
            assert_eq!(
                product.price_cents % 100,
                99,
                "{} is not a .99 price",
                product.name
            );
        }
    }

    #[test]
    fn shop_prices_end_in_99() {
        assert_eq!(shop_price(11_748), 11_699);
        assert_eq!(shop_price(3_900), 3_899);
        assert_eq!(shop_price(10), 99);
    }
}
