//! A stock page read whole, with a message for whatever is wrong: for the pages
//! the fast reader ([`super::scan`]) steps aside for. Its rules are the
//! derived `Deserialize` of [`StockPage`]'s, and `tests/page_reader.rs` holds
//! it to them.

use std::sync::Arc;

use super::{OfferStock, StockPage, WarehouseStock};
use crate::json_read::{read_text, Read, Reader};

/// Reads `text` as a stock page.
///
/// # Errors
/// What is wrong with the text, and where.
pub fn read_page(text: &str) -> Read<StockPage> {
    const FIELDS: &[&str] = &[
        "total",
        "current_page",
        "last_page",
        "per_page",
        "next_page_url",
        "data",
    ];
    read_text(text, |reader| {
        let (mut total, mut current_page, mut last_page, mut per_page) = (None, None, None, None);
        let (mut next_page_url, mut data) = (None, None);
        reader.object("a stock page", FIELDS, &mut |reader, field| {
            match field {
                0 => total = reader.nullable(Reader::whole)?,
                1 => current_page = reader.nullable(Reader::whole)?,
                2 => last_page = reader.nullable(Reader::whole)?,
                3 => per_page = reader.nullable(Reader::whole)?,
                4 => next_page_url = Some(reader.nullable(Reader::string)?),
                _ => data = Some(reader.list("the rows of a stock page", row)?),
            }
            Ok(())
        })?;
        Ok(StockPage {
            total,
            current_page,
            last_page,
            per_page,
            next_page_url,
            data: data.ok_or_else(|| reader.missing("data"))?,
        })
    })
}

fn row(reader: &mut Reader) -> Read<OfferStock> {
    const FIELDS: &[&str] = &["id", "sku", "quantity", "reserve", "warehouse"];
    let (mut id, mut sku, mut quantity, mut reserve) = (None, None, None, None);
    let mut warehouse = None;
    reader.object("an offer's stock", FIELDS, &mut |reader, field| {
        match field {
            0 => id = Some(reader.whole()?),
            1 => sku = reader.sku()?,
            2 => quantity = Some(reader.figure("quantity")?),
            3 => reserve = Some(reader.figure("reserve")?),
            _ => {
                warehouse = reader
                    .nullable(|reader| reader.list("an offer's warehouses", warehouse_stock))?;
            }
        }
        Ok(())
    })?;
    Ok(OfferStock {
        id: id.ok_or_else(|| reader.missing("id"))?,
        sku,
        quantity: quantity.ok_or_else(|| reader.missing("quantity"))?,
        reserve: reserve.ok_or_else(|| reader.missing("reserve"))?,
        warehouse,
    })
}

fn warehouse_stock(reader: &mut Reader) -> Read<WarehouseStock> {
    const FIELDS: &[&str] = &["id", "name", "quantity", "reserve"];
    let (mut id, mut name, mut quantity, mut reserve) = (None, None, None, None);
    reader.object("a warehouse's stock", FIELDS, &mut |reader, field| {
        match field {
            0 => id = Some(reader.whole()?),
            1 => name = Some(reader.string()?),
            2 => quantity = Some(reader.figure("quantity")?),
            _ => reserve = Some(reader.figure("reserve")?),
        }
        Ok(())
    })?;
    Ok(WarehouseStock {
        id: id.ok_or_else(|| reader.missing("id"))?,
        name: name.map_or_else(|| Arc::from(""), Arc::from),
        quantity: quantity.ok_or_else(|| reader.missing("quantity"))?,
        reserve: reserve.ok_or_else(|| reader.missing("reserve"))?,
    })
}
