namespace Moe.Model.Balancing;

/// <summary>Order statistics over spans: the k-th largest value, found in place in expected linear time.</summary>
public static class Selection
{
    /// <summary>Returns the k-th largest value (k = 1 is the maximum). Reorders <paramref name="values"/>.</summary>
    public static float KthLargest(Span<float> values, int k)
    {
        if (k < 1 || k > values.Length)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in [1, {values.Length}].");

        // Select the (k-1)-th index of a descending order with Hoare partitions around a median of three.
        var target = k - 1;
        int left = 0, right = values.Length - 1;
        while (right > left)
        {
            var pivot = MedianOfThree(values[left], values[left + ((right - left) / 2)], values[right]);
            int i = left, j = right;
            while (i <= j)
            {
                while (values[i] > pivot)
                    i++;
                while (values[j] < pivot)
                    j--;
                if (i <= j)
                {
                    (values[i], values[j]) = (values[j], values[i]);
                    i++;
                    j--;
                }
            }
            if (target <= j)
                right = j;
            else if (target >= i)
                left = i;
            else
                return values[target];
        }
        return values[target];
    }

    private static float MedianOfThree(float a, float b, float c) =>
        MathF.Max(MathF.Min(a, b), MathF.Min(MathF.Max(a, b), c));
}
