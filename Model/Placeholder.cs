namespace Moe.Model;

internal static class Placeholder
{
    public static float Probe() { using var t = TorchSharp.torch.ones(3); return t.sum().item<float>(); }
}
