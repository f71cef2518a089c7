// A custom sink for a schema the column options cannot express: WooCommerce keeps
// a product's SKU and stock as two rows of a key–value table, wp_postmeta
// (post_id, meta_key, meta_value), with meta_key '_sku' and '_stock'.
// `pool` is a mysql2/promise pool.

export function createPostmetaSink(pool) {
  // Post ids by SKU. meta_value's collation ignores case and trailing spaces,
  // so the query finds a superset and the exact comparison happens here.
  async function postsOf(db, skus) {
    const [rows] = await db.query(
      `SELECT post_id, meta_value AS sku FROM wp_postmeta
        WHERE meta_key = '_sku' AND meta_value IN (?)`,
      [skus],
    );
    const wanted = new Set(skus);
    return rows.filter((row) => wanted.has(row.sku));
  }

  return {
    async read(keys) {
      if (keys.length === 0) return [];
      const posts = await postsOf(
        pool,
        keys.map((key) => key.sku),
      );
      if (posts.length === 0) return [];
      const [stock] = await pool.query(
        `SELECT post_id, meta_value FROM wp_postmeta
          WHERE meta_key = '_stock' AND post_id IN (?)`,
        [posts.map((post) => post.post_id)],
      );
      const byPost = new Map(stock.map((row) => [row.post_id, row.meta_value]));
      return posts
        .filter((post) => byPost.has(post.post_id))
        .map((post) => ({
          sku: post.sku,
          stock: toNumber(byPost.get(post.post_id)),
        }));
    },

    // One transaction per batch: all of it is written, or none of it.
    async write(changes) {
      if (changes.length === 0) return;
      const connection = await pool.getConnection();
      try {
        await connection.beginTransaction();
        const posts = await postsOf(
          connection,
          changes.map((c) => c.sku),
        );
        const stockOf = new Map(changes.map((c) => [c.sku, c.stock]));
        for (const { post_id, sku } of posts) {
          const stock = stockOf.get(sku);
          await connection.execute(
            `UPDATE wp_postmeta SET meta_value = ?
              WHERE post_id = ? AND meta_key = '_stock'`,
            [stock === null ? null : String(stock), post_id],
          );
        }
        await connection.commit();
      } catch (error) {
        await connection.rollback();
        throw error;
      } finally {
        connection.release();
      }
    },
  };
}

// meta_value is text; anything that is not a number reads as null, so the next
// sync overwrites it.
function toNumber(text) {
  const number = text === null || text.trim() === "" ? NaN : Number(text);
  return Number.isFinite(number) ? number : null;
}
