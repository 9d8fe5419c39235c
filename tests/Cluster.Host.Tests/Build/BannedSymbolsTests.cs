using System.Reflection;
using Moe.Cluster.Host.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Moe.Cluster.Host.Tests.Build;

/// <summary>
/// build/BannedSymbols.txt against the TorchSharp we build with: the analyzer ignores an id that names nothing, so
/// every id must name a member, and every member that makes an unowned Scalar or Tensor from a number must be banned.
/// </summary>
public sealed class BannedSymbolsTests
{
    private static readonly HashSet<string> Banned = [.. File.ReadAllLines(Path.Combine(RepositoryRoot.Path, "build", "BannedSymbols.txt"))
        .Where(line => line.Length > 0).Select(line => line.Split(';')[0])];

    private static readonly Dictionary<string, MethodInfo> TorchSharpMethods = typeof(Scalar).Assembly.GetExportedTypes()
        .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
        .GroupBy(DocumentationId).ToDictionary(g => g.Key, g => g.First());

    [Fact]
    public void Every_banned_id_names_a_TorchSharp_member()
    {
        var unknown = Banned.Where(id => !TorchSharpMethods.ContainsKey(id)).ToList();
        Assert.True(unknown.Count == 0, $"These ids name nothing in TorchSharp {typeof(Scalar).Assembly.GetName().Version}: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void Every_conversion_to_a_Scalar_or_a_Tensor_and_every_tensor_operator_on_a_number_is_banned()
    {
        var numbers = new[] { typeof(int), typeof(long), typeof(float), typeof(double) };
        var mustBe = TorchSharpMethods.Where(m =>
            (m.Value.Name == "op_Implicit" && (m.Value.ReturnType == typeof(Scalar) || m.Value.ReturnType == typeof(Tensor))
                && (m.Value.GetParameters()[0].ParameterType.IsPrimitive || m.Value.GetParameters()[0].ParameterType.GetElementType()?.IsPrimitive == true))
            || (m.Value.DeclaringType == typeof(Tensor) && m.Value.Name is "op_Addition" or "op_Subtraction" or "op_Multiply" or "op_Division" or "op_Modulus"
                && m.Value.GetParameters().Any(p => numbers.Contains(p.ParameterType)))
            || (m.Value.DeclaringType == typeof(Tensor) && m.Value.Name == "op_Addition"));
        var missing = mustBe.Select(m => m.Key).Where(id => !Banned.Contains(id)).ToList();
        Assert.True(missing.Count == 0, $"Not banned: {string.Join(", ", missing)}");
    }

    // The documentation comment id of a method, as the C# compiler writes it.
    private static string DocumentationId(MethodInfo method)
    {
        var parameters = method.GetParameters();
        var id = $"M:{TypeName(method.DeclaringType!)}.{method.Name}"
            + (parameters.Length > 0 ? $"({string.Join(",", parameters.Select(p => TypeName(p.ParameterType)))})" : "");
        return method.Name is "op_Implicit" or "op_Explicit" ? $"{id}~{TypeName(method.ReturnType)}" : id;
    }

    private static string TypeName(Type type) =>
        type.IsArray ? $"{TypeName(type.GetElementType()!)}[]"
        : type.IsByRef ? $"{TypeName(type.GetElementType()!)}@"
        : type.IsGenericParameter ? $"`{type.GenericParameterPosition}"
        : type.IsConstructedGenericType ? $"{TypeName(type.GetGenericTypeDefinition())[..^2]}{{{string.Join(",", type.GetGenericArguments().Select(TypeName))}}}"
        : type.IsNested ? $"{TypeName(type.DeclaringType!)}.{type.Name}"
        : $"{type.Namespace}.{type.Name}";
}
