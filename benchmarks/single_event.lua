-- wrk script of the single-event benchmark (benchmarks/ingest.py --browser-load wrk):
-- analytics.js-shaped track calls, each with its own messageId, to /v1/t.
-- wrk ... -s single_event.lua URL -- WRITE_KEY ORIGIN
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  key = args[1]
  origin = args[2]
  sent = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "text/plain"
  wrk.headers["Origin"] = origin
  wrk.headers["User-Agent"] =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"event":"Product Viewed","anonymousId":"browser-%d","messageId":"wrk-%d-%d",' ..
    '"writeKey":"%s","properties":{"sku":"SKU-%d","price":"$19.99","currency":"usd"},' ..
    '"originalTimestamp":"%s","context":{"page":{"url":"%s/p/%d?utm_source=google&utm_medium=cpc",' ..
    '"referrer":"https://www.google.com/","title":"Boots"},' ..
    '"library":{"name":"analytics.js","version":"next-1.84.3"}}}',
    sent % 5000, id, sent, key, sent % 300, os.date("!%Y-%m-%dT%H:%M:%SZ"), origin, sent % 300)
  return wrk.format(nil, nil, nil, body)
end
