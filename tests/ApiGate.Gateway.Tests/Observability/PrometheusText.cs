using System.Globalization;
using System.Text;

namespace ApiGate.Gateway.Tests.Observability;

/// <summary>One sample of a Prometheus text exposition: <c>name{label="value",...} number</c>.</summary>
internal sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>A small parser for the Prometheus text format (0.0.4), enough to assert values in tests.</summary>
internal sealed class PrometheusText
{
    private PrometheusText(List<PrometheusSample> samples, Dictionary<string, string> types)
    {
        Samples = samples;
        Types = types;
    }

    public IReadOnlyList<PrometheusSample> Samples { get; }

    /// <summary>Metric family name → type from the <c># TYPE</c> lines.</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    /// <summary>GETs <paramref name="metricsUrl"/> (must answer 200) and parses it.</summary>
    public static async Task<PrometheusText> ScrapeAsync(HttpClient client, string metricsUrl)
    {
        using var response = await client.GetAsync(metricsUrl);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Scrapes once <c>apigate_requests_total</c> (filtered by <paramref name="labels"/>) reaches <paramref name="requests"/>:
    /// a request is recorded just after its response is written, so a client can see the last response a moment
    /// before it counts (waits at most 5 s, then returns the last scrape).
    /// </summary>
    public static Task<PrometheusText> ScrapeAfterAsync(HttpClient client, string metricsUrl, int requests, params (string Name, string Value)[] labels) =>
        ScrapeUntilAsync(client, metricsUrl, "apigate_requests_total", requests, labels);

    /// <summary>Scrapes until the sum of <paramref name="metric"/> (filtered by <paramref name="labels"/>) reaches <paramref name="count"/> (at most 5 s).</summary>
    public static async Task<PrometheusText> ScrapeUntilAsync(HttpClient client, string metricsUrl, string metric, int count, params (string Name, string Value)[] labels)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        var metrics = await ScrapeAsync(client, metricsUrl);
        while (metrics.Sum(metric, labels) < count && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(20);
            metrics = await ScrapeAsync(client, metricsUrl);
        }

        return metrics;
    }

    public static PrometheusText Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                if (parts.Length == 4 && parts[1] == "TYPE")
                {
                    types[parts[2]] = parts[3];
                }

                continue;
            }

            samples.Add(ParseSample(line));
        }

        return new PrometheusText(samples, types);
    }

    /// <summary>
    /// The sum of the samples called <paramref name="name"/> whose labels include every given pair (a label the
    /// sample lacks counts as ""); 0 when none match.
    /// </summary>
    public double Sum(string name, params (string Label, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Label, "") == l.Value)).Sum(s => s.Value);

    /// <summary>The samples called <paramref name="name"/> matching the labels.</summary>
    public IReadOnlyList<PrometheusSample> Find(string name, params (string Label, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Label, "") == l.Value)).ToList();

    private static PrometheusSample ParseSample(string line)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var brace = line.IndexOf('{');
        var space = line.IndexOf(' ');
        string name;
        int rest;
        if (brace >= 0 && (space < 0 || brace < space))
        {
            name = line[..brace];
            var i = brace + 1;
            while (line[i] != '}')
            {
                var eq = line.IndexOf('=', i);
                var label = line[i..eq].Trim();
                if (line[eq + 1] != '"')
                {
                    throw new FormatException($"label value not quoted: {line}");
                }

                var value = new StringBuilder();
                i = eq + 2;
                while (line[i] != '"')
                {
                    if (line[i] == '\\')
                    {
                        i++;
                        value.Append(line[i] switch { 'n' => '\n', var c => c });
                    }
                    else
                    {
                        value.Append(line[i]);
                    }

                    i++;
                }

                labels[label] = value.ToString();
                i++;
                if (line[i] == ',')
                {
                    i++;
                }
            }

            rest = i + 1;
        }
        else
        {
            name = line[..space];
            rest = space;
        }

        var fields = line[rest..].Trim().Split(' ');
        var number = fields[0] switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
        };
        return new PrometheusSample(name, labels, number);
    }
}
