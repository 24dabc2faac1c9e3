/**
 * Large pages shaped like real ones, for the snapshot tests and `bench:browser`: a long article with
 * site chrome around it, a big data table, and a shop listing with filters. Deterministic: the same
 * HTML every time.
 */

const WORDS = "river bridge council engineer winter timber summer crane ferry harbour market bakery flour price tourist mayor speech band evening pylon drawing capital spring water town".split(" ");

/** `count` words from a fixed cycle, starting at `seed`. */
function words(seed: number, count: number): string {
  return Array.from({ length: count }, (_, i) => WORDS[(seed * 7 + i * 3) % WORDS.length]).join(" ");
}

const html = (title: string, body: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

const SITE_NAV = `<header><a href="/">Gazette</a><nav><ul>${["News", "Sport", "Business", "Culture", "Weather", "Opinion"].map((name) => `<li><a href="/${name.toLowerCase()}">${name}</a></li>`).join("")}</ul></nav>
  <form role="search" action="/search"><input type="search" name="q" placeholder="Search the Gazette"><button>Search</button></form></header>`;
const FOOTER = `<footer><p>Copyright Gazette Media Group.</p><ul>${["About", "Contact", "Privacy", "Terms"].map((name) => `<li><a href="/${name.toLowerCase()}">${name}</a></li>`).join("")}</ul></footer>`;

/** About 60 sections of 4 paragraphs of ~60 words: ~15,000 words of article text. */
export function longArticle(sections = 60): string {
  const body = Array.from(
    { length: sections },
    (_, s) => `<h2>Part ${s + 1}: the ${words(s, 3)}</h2>${Array.from({ length: 4 }, (_, p) => `<p>${words(s * 4 + p, 60)}.</p>`).join("")}`,
  ).join("");
  return html(
    "The long story of the river bridge - Gazette",
    `${SITE_NAV}<main><article><h1>The long story of the river bridge</h1><p class="byline">By Mara Quill</p>${body}
      <section><h2>Comments</h2><form><label>Your name <input id="commenter" name="name"></label><label>Comment <textarea id="comment" name="comment"></textarea></label>
      <label><input type="checkbox" id="notify" name="notify"> Notify me of replies</label><button type="button" id="post" onclick="document.getElementById('posted').textContent = 'Posted by ' + document.getElementById('commenter').value">Post comment</button></form>
      <p id="posted"></p></section></article></main>${FOOTER}`,
  );
}

/** A table of `rows` orders with 7 columns, each row with a "Details" link. */
export function bigTable(rows = 1000): string {
  const statuses = ["shipped", "pending", "cancelled", "delivered"];
  const body = Array.from(
    { length: rows },
    (_, i) =>
      `<tr><td>${10000 + i}</td><td>${words(i, 2)}</td><td>${(i * 37) % 100}.${(i * 13) % 100} EUR</td><td>${statuses[i % 4]}</td><td>2026-${String((i % 12) + 1).padStart(2, "0")}-${String((i % 28) + 1).padStart(2, "0")}</td><td>${words(i + 5, 1)}</td><td><a href="/orders/${10000 + i}">Details</a></td></tr>`,
  ).join("");
  return html(
    "Orders",
    `${SITE_NAV}<main><h1>Orders</h1><table><thead><tr><th>Order</th><th>Customer</th><th>Total</th><th>Status</th><th>Date</th><th>Region</th><th></th></tr></thead><tbody>${body}</tbody></table></main>${FOOTER}`,
  );
}

/** A shop listing of `products` cards (image, name link, price, rating, size select, add-to-cart button), with filters. */
export function shopListing(products = 200): string {
  const cards = Array.from(
    { length: products },
    (_, i) => `<li class="card"><div class="media"><img src="data:," alt="Photo of ${words(i, 2)} lamp ${i + 1}" width="40" height="40"></div>
      <div class="info"><h3><a href="/p/${i + 1}">${words(i, 2)} lamp ${i + 1}</a></h3><div class="price"><span>${(i * 7) % 90 + 9}.99</span> <span>EUR</span></div>
      <div class="rating" aria-label="Rated ${(i % 5) + 1} out of 5"><span>★★★★★</span></div><p class="blurb">${words(i, 14)}.</p>
      <select name="size-${i + 1}" aria-label="Size"><option>Small</option><option>Medium</option><option>Large</option></select>
      <button type="button" data-product="${i + 1}" onclick="document.getElementById('cart').textContent = 'Cart: lamp ' + this.dataset.product">Add to cart</button></div></li>`,
  ).join("");
  return html(
    "Lamps - Shop",
    `${SITE_NAV}<main><h1>Lamps</h1><p id="cart">Cart: empty</p><aside><h2>Filters</h2><form><fieldset><legend>Colour</legend>${["Red", "Green", "Blue", "Brass"].map((colour) => `<label><input type="checkbox" name="colour" value="${colour}"> ${colour}</label>`).join("")}</fieldset>
      <label>Max price <input type="number" id="max-price" name="max"></label><label>Sort <select id="sort"><option>Popular</option><option>Cheapest</option><option>Newest</option></select></label></form></aside>
      <ul class="grid">${cards}</ul></main>${FOOTER}`,
  );
}
