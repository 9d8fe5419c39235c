using System.Text.RegularExpressions;
using Moe.Cluster.Host.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Moe.Cluster.Host.Tests.Deploy;

/// <summary>
/// Reads the Helm chart without helm. A template becomes YAML by a fixed, simple substitution:
/// <list type="number">
/// <item>template comments (<c>{{/* */}}</c>, <c>{{- /* */ -}}</c>) are removed;</item>
/// <item>a line holding nothing but template actions (if, range, with, end, include ... | nindent, toYaml) is removed;</item>
/// <item>every other action <c>{{ ... }}</c> is replaced by the scalar <c>TEMPLATED</c>.</item>
/// </list>
/// What the removed lines would add (labels from helpers, optional blocks) is checked on the template text instead.
/// Named templates whose body is YAML (<c>define</c>) are read the same way. What Helm's engine renders, and whether
/// the pods' environment binds, is checked on real renders (<see cref="ChartRenderer"/>).
/// </summary>
internal static partial class ChartFiles
{
    public const string Placeholder = "TEMPLATED";

    public static string Chart { get; } = Path.Combine(RepositoryRoot.Path, "helm", "moe-cluster");

    public static string Templates => Path.Combine(Chart, "templates");

    public static IEnumerable<string> TemplateFiles =>
        Directory.GetFiles(Templates, "*.yaml").Order(StringComparer.Ordinal);

    public static string Text(string file) => File.ReadAllText(Path.Combine(Templates, file));

    /// <summary>The body of <c>{{- define "name" -}}</c> in any helper file, up to its closing <c>{{- end -}}</c> at column 0.</summary>
    public static string Define(string name)
    {
        foreach (var file in Directory.GetFiles(Templates, "_*.tpl"))
        {
            var text = File.ReadAllText(file);
            var start = text.IndexOf($"{{{{- define \"{name}\" -}}}}", StringComparison.Ordinal);
            if (start < 0)
                continue;
            var bodyStart = text.IndexOf('\n', start) + 1;
            var end = text.IndexOf("\n{{- end -}}", bodyStart, StringComparison.Ordinal);
            return text[bodyStart..end];
        }
        throw new InvalidOperationException($"No define \"{name}\" in the chart's helpers.");
    }

    public static string Substitute(string template)
    {
        var text = Comment().Replace(template, "");
        var lines = text.Split('\n').Where(line => !ActionOnly().IsMatch(line)).Select(line => Action().Replace(line, Placeholder));
        return string.Join('\n', lines);
    }

    /// <summary>The documents of a template after substitution (empty documents dropped).</summary>
    public static IReadOnlyList<YamlMappingNode> Documents(string template)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(Substitute(template)));
        return [.. stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>()];
    }

    /// <summary>The YAML sequence a define produces (a container, a list of env entries).</summary>
    public static YamlSequenceNode Sequence(string define)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(Substitute(Define(define))));
        return (YamlSequenceNode)stream.Documents.Single().RootNode;
    }

    public static YamlMappingNode Values()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(Chart, "values.yaml"))));
        return (YamlMappingNode)stream.Documents.Single().RootNode;
    }

    /// <summary>Follows a dotted path of mapping keys; null when a key is missing.</summary>
    public static YamlNode? At(this YamlNode node, string path)
    {
        foreach (var key in path.Split('.'))
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next))
                return null;
            node = next;
        }
        return node;
    }

    public static string? Scalar(this YamlNode node, string path) => (node.At(path) as YamlScalarNode)?.Value;

    [GeneratedRegex(@"\{\{-?\s*/\*.*?\*/\s*-?\}\}", RegexOptions.Singleline)]
    private static partial Regex Comment();

    [GeneratedRegex(@"^\s*(\{\{.*?\}\}\s*)+$")]
    private static partial Regex ActionOnly();

    [GeneratedRegex(@"\{\{.*?\}\}")]
    private static partial Regex Action();
}
