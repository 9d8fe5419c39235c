namespace Moe.Model.Training.Rounds;

/// <summary>
/// How a trainer's delta travels to the outer step. Bf16 (bfloat16) halves its bytes: each value keeps float32's exponent
/// and 8 bits of mantissa, rounded to nearest even; the outer step still averages and applies it in float32.
/// </summary>
public enum DeltaPrecision
{
    Fp32,
    Bf16,
}
