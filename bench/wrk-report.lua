-- wrk reporting script for bench/run.sh.
--
-- Prints one machine-readable line after the run, e.g.
--   WRK_RESULT rps=51234.56 p50_us=512 p90_us=801 p99_us=1890 max_us=20311 requests=512345 duration_s=10.000 errors=0 non2xx=0 timeouts=0 bytes=...
-- Latencies are in microseconds. "non2xx" counts responses with status > 399
-- (wrk's summary.errors.status); "errors" is connect+read+write+timeout errors.

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d requests=%d duration_s=%.3f errors=%d non2xx=%d timeouts=%d bytes=%d\n",
    summary.requests / secs,
    latency:percentile(50.0),
    latency:percentile(90.0),
    latency:percentile(99.0),
    latency.max,
    summary.requests,
    secs,
    e.connect + e.read + e.write + e.timeout,
    e.status,
    e.timeout,
    summary.bytes))
end
