/* Legacy v1 Spectral Analysis block (csrc/spectral_v1.c): reference vectors of the original
 * v1 block (embedded below from tests/data/spectral/cases.json), an analytic two-tone signal,
 * the peakutils-style peak finder on hand-made inputs, and error statuses. */
#include <string.h>
#include <stdint.h>

#include "../spectral_internal.h"
#include "ctest.h"

#define PI 3.14159265358979323846

/* reference case 63 of tests/data/spectral/cases.json: v1, 62.5 Hz, 3 axes x 125 samples (interleaved), filter none order 0 at 3.0 Hz, N=128, 4 peaks >= 0.1, edges "0.5, 1.5, 3.0, 6.0, 12.0, 24.0" */
static const float k_case63_raw[375] = {
    19.1341f, 10.3861f, 11.1781f, 12.4044f, 4.0976f, 2.6942f,
    9.7054f, -2.8878f, 10.5678f, 12.3987f, 0.711f, 16.9774f,
    11.6574f, 6.7796f, 7.1949f, 7.2871f, 5.5716f, 3.4653f,
    8.745f, 1.8158f, 13.6669f, 11.2813f, -0.3854f, 14.8921f,
    7.5566f, 0.3579f, 4.3182f, 3.7769f, 5.8535f, 5.748f,
    9.5208f, 7.4328f, 15.8888f, 6.8523f, 2.526f, 12.074f,
    5.3244f, -3.7731f, 2.6806f, 9.4609f, 0.8917f, 9.4095f,
    4.0566f, 8.1619f, 17.0527f, 1.3197f, 10.0771f, 8.0851f,
    7.3562f, 2.2041f, 2.8716f, 5.9504f, -2.8204f, 13.3793f,
    3.2343f, 0.2738f, 15.7106f, 6.801f, 3.6418f, 4.8821f,
    8.8804f, 9.305f, 5.392f, 5.4338f, 3.7639f, 15.7255f,
    8.9117f, -4.5869f, 12.4572f, 13.4241f, -0.2673f, 2.8976f,
    13.231f, 7.2825f, 8.1111f, 12.2513f, 6.4778f, 16.967f,
    18.2785f, 3.2096f, 9.3373f, 17.2919f, -1.3705f, 3.5374f,
    13.9785f, 1.3429f, 12.0474f, 20.3427f, 6.6923f, 16.0598f,
    16.0361f, 9.8759f, 5.7662f, 8.7984f, 3.7676f, 4.5641f,
    13.9992f, -1.089f, 15.0611f, 15.7168f, -0.6466f, 13.9274f,
    13.0162f, 6.7656f, 3.8208f, 12.0107f, 8.8662f, 7.1787f,
    14.562f, 1.5918f, 16.3393f, 6.6599f, -1.6273f, 10.0101f,
    5.4964f, -2.7658f, 2.4889f, 12.4666f, 5.781f, 10.978f,
    8.1226f, 6.2233f, 16.688f, 4.1166f, 1.6637f, 7.0407f,
    8.3258f, -2.6688f, 3.9443f, 6.4275f, -0.6326f, 14.3203f,
    3.017f, 4.7945f, 14.7314f, 8.018f, 8.5654f, 4.1168f,
    3.4201f, 0.9132f, 6.1092f, 2.3817f, -2.7242f, 16.225f,
    4.3607f, 0.3f, 11.8264f, 8.9135f, 6.8447f, 2.928f,
    4.4493f, 9.1869f, 10.0103f, 4.2684f, 2.3497f, 17.0371f,
    9.9664f, -0.9831f, 7.8429f, 7.8836f, -1.2666f, 3.3309f,
    8.7378f, 3.1344f, 13.0082f, 16.2069f, 9.7168f, 15.7049f,
    12.6119f, 4.3054f, 4.8478f, 12.533f, -0.8424f, 5.3947f,
    16.674f, -1.9076f, 16.3221f, 17.0493f, 6.855f, 12.493f,
    10.2133f, 8.7437f, 3.2023f, 15.2346f, 4.7269f, 8.3748f,
    16.9289f, -1.3194f, 16.9468f, 11.3103f, -1.5904f, 9.0994f,
    14.1454f, 6.6784f, 2.5225f, 13.6645f, 9.6536f, 12.3075f,
    11.3155f, 3.2744f, 16.4212f, 9.5531f, -2.871f, 5.7249f,
    13.5359f, -0.5564f, 4.5759f, 9.7179f, 6.3748f, 15.4463f,
    5.2832f, 9.0488f, 14.2068f, 13.7885f, 4.4162f, 3.2379f,
    8.025f, -0.4235f, 7.7333f, 3.8326f, -0.5298f, 16.826f,
    8.4438f, 3.4992f, 10.1142f, 4.1965f, 9.3297f, 2.6122f,
    0.9172f, 2.9939f, 11.4114f, 5.0899f, -3.0396f, 16.1582f,
    5.6444f, -3.0898f, 6.5656f, 1.0719f, 5.3387f, 4.0091f,
    2.8232f, 10.7612f, 14.5948f, 7.9441f, 4.3439f, 14.4553f,
    6.8487f, -2.5987f, 3.5163f, 9.1239f, -1.0959f, 6.8731f,
    13.6721f, 5.3638f, 16.7533f, 12.9959f, 10.0767f, 10.8465f,
    9.9031f, 4.0292f, 2.7643f, 14.0657f, -4.6763f, 10.5403f,
    14.0418f, 0.6091f, 16.6847f, 11.7857f, 5.0715f, 7.469f,
    14.9567f, 10.9776f, 3.5181f, 14.5122f, 3.2506f, 13.412f,
    11.2638f, -0.8937f, 14.9873f, 11.3732f, -1.4503f, 4.4568f,
    14.8702f, 4.681f, 6.41f, 10.9633f, 6.5455f, 16.2731f,
    12.8164f, 5.1063f, 12.2867f, 18.1276f, -2.0837f, 2.8135f,
    12.5396f, -1.0917f, 9.299f, 11.4292f, 3.9771f, 16.7844f,
    16.0153f, 7.4216f, 8.5827f, 11.6523f, 1.9172f, 2.6685f,
    7.2579f, -0.6543f, 13.2262f, 9.7518f, -1.8952f, 16.1098f,
    10.3817f, 5.7662f, 5.2331f, 0.4041f, 8.4114f, 4.9233f,
    4.16f, 4.069f, 15.6746f, 7.5445f, -1.8894f, 13.1583f,
    1.8974f, -1.1635f, 2.8393f, 2.7432f, 5.9684f, 8.5773f,
    8.6062f, 9.8923f, 16.7634f, 5.5519f, 5.0053f, 9.6663f,
    6.8689f, -3.5669f, 3.0106f, 9.9735f, -0.751f, 11.8579f,
    7.9868f, 3.0206f, 16.1458f, 8.2762f, 9.6857f, 6.0904f,
    14.185f, 3.7325f, 4.088f, 10.858f, 0.2379f, 15.0766f,
    6.0436f, -2.9761f, 14.5516f, 14.063f, 4.7179f, 3.7098f,
    15.9478f, 8.594f, 7.6081f, 8.7917f, 3.4352f, 16.5985f,
    12.7755f, -3.2308f, 10.8979f, 18.723f, -2.5157f, 2.7309f,
    12.7308f, 1.4949f, 11.0835f,
};

static const float k_case63_features[42] = {
    4.48966599f, 1.98412698f, 4.86557817f, 19.8412698f, 2.60606289f, 4.46428571f,
    1.07869637f, 3.47222222f, 0.682480216f, 0.00813784264f, 0.846982598f, 0.0394553542f,
    0.0108438097f, 0.0455606692f, 4.23681831f, 12.8968254f, 3.86570573f, 15.8730159f,
    0.547627628f, 18.3531746f, 0.459197968f, 8.43253968f, 0.383630455f, 0.00526794652f,
    0.00818250701f, 0.00640888652f, 0.0256178938f, 0.128366962f, 5.02404594f, 17.3611111f,
    5.55623293f, 13.8888889f, 0.350915849f, 29.7619048f, 0.175432429f, 30.7539683f,
    0.163252011f, 0.000531566679f, 0.000388104672f, 0.000421349949f, 0.000762788055f, 0.205224916f,
};

static const double k_case63_edges[6] = {0.5, 1.5, 3.0, 6.0, 12.0, 24.0};
static void k_case63_params(edgert_spectral_params *p)
{
    memset(p, 0, sizeof *p);
    p->version = 1;
    p->sampling_freq = 62.5f;
    p->scale_axes = 1.0f;
    p->decimation_ratio = 1;
    p->filter_type = EDGERT_FILTER_NONE;
    p->filter_cutoff = 3.0f;
    p->filter_order = 0;
    p->fft_length = 128;
    p->peaks_count = 4;
    p->peaks_threshold = 0.1f;
    p->n_power_edges = 6;
    memcpy(p->power_edges, k_case63_edges, sizeof k_case63_edges);
}

/* reference case 64 of tests/data/spectral/cases.json: v1, 62.5 Hz, 3 axes x 125 samples (interleaved), filter low order 4 at 3.0 Hz, N=16, 1 peaks >= 1.0, edges "0.1, 0.5, 1.0, 2.0, 5.0" */
static const float k_case64_raw[375] = {
    17.6759f, -6.7789f, -1.7049f, 15.9475f, 9.865f, -4.2316f,
    10.2657f, -0.5582f, -4.5981f, 8.6292f, -1.9345f, -2.42f,
    7.1742f, -8.1732f, -0.7103f, 8.9612f, 14.3943f, -3.1899f,
    9.8047f, -7.2745f, -5.577f, 10.6701f, -2.3454f, -5.5005f,
    6.483f, 3.1407f, -3.0044f, 4.9308f, 8.5298f, -1.7901f,
    2.4379f, -5.9585f, -5.5505f, 10.4227f, -7.4968f, -7.2681f,
    17.0028f, 10.9558f, -8.5004f, 16.9913f, -1.2368f, -5.0027f,
    15.1129f, -3.3233f, -4.3659f, 11.5005f, -7.9938f, -7.5287f,
    3.5755f, 13.2133f, -7.1651f, -1.5375f, -6.2058f, -11.2615f,
    4.3138f, -0.4802f, -7.8457f, 9.1681f, -1.9641f, -6.6902f,
    18.6093f, 5.5874f, -8.6089f, 22.3385f, -3.4952f, -12.3362f,
    18.9238f, -5.4002f, -12.834f, 8.7023f, 6.5353f, -11.1133f,
    3.7107f, -3.6437f, -9.3046f, 0.6945f, 3.7311f, -12.7494f,
    1.4723f, -7.6171f, -14.05f, 8.4099f, 7.172f, -14.5836f,
    15.1185f, -4.5195f, -15.7662f, 14.5067f, 2.9121f, -11.1202f,
    12.3344f, -7.1416f, -14.6524f, 11.0395f, 3.8635f, -15.0214f,
    6.9049f, 4.0045f, -17.868f, 7.6795f, -4.6026f, -15.5284f,
    10.5329f, 0.6878f, -14.0925f, 11.0717f, -0.2471f, -15.2827f,
    6.9063f, 9.6353f, -17.747f, 6.9383f, -11.969f, -20.7777f,
    5.0237f, 2.592f, -18.0941f, 6.5937f, 1.0922f, -16.0736f,
    12.7544f, 5.6843f, -13.3334f, 17.1052f, -10.8657f, -16.6116f,
    19.3772f, 3.7945f, -19.8546f, 16.4306f, 8.3847f, -18.8547f,
    5.7388f, -5.9063f, -16.2042f, -2.8381f, -3.8539f, -15.4341f,
    -0.8057f, 1.0487f, -18.0478f, 4.3513f, 11.118f, -18.3028f,
    9.9939f, -14.9463f, -17.555f, 20.8812f, 4.9616f, -14.9553f,
    21.0248f, 2.7249f, -16.0658f, 15.2624f, 4.5937f, -14.4062f,
    7.125f, -9.7598f, -18.5968f, 0.4487f, 5.1713f, -16.942f,
    3.0414f, 7.0454f, -13.3984f, 6.8918f, -5.0588f, -14.3162f,
    7.5052f, -1.7771f, -13.6291f, 12.7955f, -2.6119f, -15.9956f,
    14.3656f, 8.5051f, -15.789f, 12.1949f, -9.7912f, -13.5314f,
    9.2269f, 6.1832f, -9.8177f, 6.8696f, -0.0502f, -12.9983f,
    11.1244f, 4.9075f, -15.059f, 13.3708f, -5.9032f, -12.8296f,
    11.2337f, 0.1526f, -11.1926f, 9.2868f, 1.8169f, -7.9093f,
    3.1311f, -0.5501f, -10.0218f, 2.5261f, 2.2404f, -10.2331f,
    6.3785f, -7.7815f, -11.5795f, 13.7905f, 7.7322f, -8.5105f,
    23.0066f, -3.1555f, -6.6715f, 20.9958f, 2.5504f, -7.2355f,
    13.0752f, -7.5678f, -7.7506f, 3.6777f, 9.4816f, -9.3794f,
    -5.0708f, -1.2417f, -6.0087f, -0.0396f, -4.8847f, -2.6694f,
    2.9783f, 0.5499f, -4.7168f, 11.3504f, 2.9258f, -6.6124f,
    19.3576f, 2.3041f, -4.9185f, 18.5956f, -10.7578f, -4.4484f,
    13.1487f, 9.7248f, -2.0816f, 8.2584f, 1.4591f, -2.3101f,
    3.722f, 0.9923f, -5.3794f, 1.6882f, -10.3144f, -5.7271f,
    8.1955f, 12.2171f, -3.9431f, 10.1584f, 0.63f, -1.3844f,
    12.2545f, -5.9377f, -0.9301f, 10.4437f, -0.1109f, -3.4946f,
    8.1697f, 5.5023f, -3.7399f, 7.5094f, 0.2606f, -2.8953f,
    13.6272f, -10.7994f, -3.4606f, 13.852f, 9.6846f, -0.0429f,
    14.1221f, -0.5879f, -2.0543f, 9.9446f, 0.3126f, -5.0658f,
    3.9253f, -8.3936f, -2.8366f, 1.4773f, 10.787f, -2.4455f,
    0.7109f, -1.2242f, -0.6446f, 10.5862f, -4.5859f, -4.0505f,
    15.2301f, -0.0561f, -6.0848f, 19.0918f, 1.426f, -4.425f,
    20.5309f, 4.2513f, -4.2655f, 11.7251f, -8.6377f, -2.2841f,
    4.834f, 6.3817f, -5.6475f, -2.2014f, -5.0654f, -6.3489f,
    0.2604f, 6.1193f, -6.2981f, 8.1776f, -8.4217f, -4.952f,
    16.1653f, 4.111f, -4.7122f, 20.0569f, -0.0847f, -9.7088f,
    17.4395f, 1.4567f, -11.4928f, 11.3664f, -3.8003f, -9.429f,
    7.268f, -1.9108f, -8.4626f, 3.8532f, 8.3118f, -5.9583f,
    6.8342f, -5.5908f, -10.0622f, 9.6189f, 0.7936f, -12.1314f,
    9.1883f, -4.5719f, -10.9848f, 9.5305f, 12.6941f, -9.3508f,
    9.4609f, -8.601f, -9.9643f, 8.1576f, 0.1877f, -11.4372f,
    12.6608f, 2.4845f, -15.9689f, 15.3684f, 3.5805f, -15.3053f,
    16.5656f, -8.2394f, -11.3619f, 15.295f, -3.3481f, -11.5328f,
    7.6696f, 13.1309f, -13.7598f, 1.8799f, -4.6437f, -16.1776f,
    -1.9555f, -1.9431f, -15.641f,
};

static const float k_case64_features[21] = {
    0.482225969f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.00715792621f, 0.202527006f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.000199838137f, 4.87846697f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0996540436f,
};

static const double k_case64_edges[5] = {0.1, 0.5, 1.0, 2.0, 5.0};
static void k_case64_params(edgert_spectral_params *p)
{
    memset(p, 0, sizeof *p);
    p->version = 1;
    p->sampling_freq = 62.5f;
    p->scale_axes = 1.0f;
    p->decimation_ratio = 1;
    p->filter_type = EDGERT_FILTER_LOW;
    p->filter_cutoff = 3.0f;
    p->filter_order = 4;
    p->fft_length = 16;
    p->peaks_count = 1;
    p->peaks_threshold = 1.0f;
    p->n_power_edges = 5;
    memcpy(p->power_edges, k_case64_edges, sizeof k_case64_edges);
}

/* reference case 67 of tests/data/spectral/cases.json: v1, 62.5 Hz, 3 axes x 125 samples (interleaved), filter high order 2 at 3.0 Hz, N=128, 1 peaks >= 0.1, edges "0.1, 0.5, 1.0, 2.0, 5.0" */
static const float k_case67_raw[375] = {
    13.0606f, 4.0212f, 1.1416f, 9.1221f, 6.8803f, 5.6476f,
    11.4623f, 9.5942f, 6.9604f, 10.6535f, 10.1868f, 5.2462f,
    15.8654f, 8.3991f, 4.2557f, 16.2405f, 5.6432f, 4.6412f,
    11.8708f, 4.4137f, 6.3382f, 9.9582f, 5.5341f, 7.0732f,
    3.4231f, 8.931f, 3.8249f, 5.1803f, 12.6314f, -1.476f,
    6.9281f, 14.3139f, -6.2004f, 8.1866f, 12.0229f, -7.6811f,
    10.843f, 6.6491f, -5.9144f, 5.8742f, 0.9165f, -3.9866f,
    6.1654f, -3.376f, -4.6224f, 5.3786f, -3.9039f, -6.0747f,
    8.2281f, -1.4662f, -6.4087f, 15.2985f, 1.3813f, -3.4894f,
    15.1477f, 2.8886f, 1.9617f, 16.5727f, 2.0794f, 6.1941f,
    12.3412f, -0.3767f, 7.7042f, 9.0673f, -2.7657f, 6.0398f,
    11.4213f, -3.1807f, 3.8635f, 10.8487f, -1.3198f, 4.0542f,
    14.7434f, 1.9565f, 5.9196f, 12.2329f, 3.7947f, 5.9322f,
    8.042f, 2.8424f, 2.9126f, 5.3587f, -1.212f, -2.5377f,
    0.8046f, -6.5432f, -6.9137f, 5.9906f, -10.259f, -8.0603f,
    7.7726f, -10.3207f, -6.5041f, 9.6823f, -7.1782f, -4.1294f,
    11.4024f, -1.8685f, -4.1941f, 6.9509f, 2.1904f, -5.4986f,
    8.7547f, 3.5182f, -5.2585f, 8.6564f, 2.6686f, -2.7727f,
    12.5541f, 0.6322f, 3.4985f, 17.9106f, -0.177f, 7.4518f,
    15.7555f, 1.1335f, 8.3411f, 15.0619f, 4.4196f, 6.5729f,
    9.116f, 7.5422f, 3.9471f, 7.6623f, 8.2319f, 3.5922f,
    9.9854f, 5.9814f, 4.9729f, 8.895f, 2.0423f, 4.7686f,
    12.8122f, -1.211f, 1.6809f, 7.9635f, -1.4047f, -3.7304f,
    4.7951f, 1.7845f, -7.8003f, 3.5169f, 7.3029f, -8.8454f,
    2.2705f, 12.3159f, -6.1527f, 9.6626f, 14.6577f, -3.92f,
    11.1845f, 13.9294f, -3.089f, 13.0831f, 10.6937f, -4.6228f,
    12.6588f, 7.8851f, -4.5268f, 8.142f, 6.8716f, -1.2224f,
    11.045f, 8.3598f, 3.8203f, 11.2143f, 10.2904f, 8.274f,
    15.7387f, 11.0023f, 8.6744f, 17.4006f, 8.9351f, 6.4849f,
    12.9009f, 4.9089f, 3.5252f, 11.0887f, 1.0615f, 2.7501f,
    5.1204f, -0.8736f, 3.7404f, 5.9017f, 0.7785f, 3.7917f,
    7.7119f, 4.9104f, 0.4055f, 8.5634f, 9.479f, -4.4211f,
    10.725f, 11.4662f, -8.5946f, 5.4094f, 9.7949f, -9.3226f,
    4.885f, 5.4586f, -6.2091f, 4.4936f, 0.3974f, -3.4215f,
    6.3289f, -2.8336f, -2.8351f, 13.9964f, -3.129f, -3.4913f,
    14.1001f, -1.6458f, -3.3585f, 16.0657f, -0.0507f, -0.4185f,
    12.6732f, -0.6086f, 4.9828f, 9.214f, -2.8539f, 9.306f,
    12.5918f, -6.2146f, 9.1571f, 11.9589f, -8.0444f, 6.137f,
    15.1992f, -6.8702f, 3.2634f, 13.9535f, -2.8907f, 2.0063f,
    8.5302f, 2.1829f, 2.974f, 6.6065f, 5.0607f, 2.7933f,
    1.935f, 4.9512f, -0.1552f, 4.8587f, 1.4661f, -5.07f,
    8.0717f, -3.0716f, -9.3735f, 8.7376f, -6.732f, -9.3316f,
    10.7391f, -6.6797f, -6.1396f, 5.2445f, -3.9348f, -2.7671f,
    6.865f, -0.4492f, -1.4661f, 8.2841f, 2.2745f, -2.6041f,
    11.6007f, 2.5898f, -2.4804f, 18.1656f, 0.9461f, 0.8674f,
    15.4678f, -0.352f, 5.7409f, 14.9839f, 0.5973f, 9.6352f,
    10.5509f, 4.215f, 9.6194f, 7.8581f, 9.1817f, 6.0576f,
    10.5681f, 12.9553f, 2.5184f, 10.3549f, 13.5576f, 0.7907f,
    13.2567f, 10.8356f, 1.5148f, 9.4914f, 5.7614f, 1.5765f,
    4.4385f, 1.9073f, -1.3278f, 3.5298f, 0.9336f, -6.0575f,
    1.7125f, 3.2102f, -9.6476f, 7.7894f, 7.0785f, -9.5058f,
    10.3652f, 10.7187f, -5.6905f, 11.5217f, 11.8803f, -2.2686f,
    12.0268f, 10.264f, -0.3883f, 7.1465f, 7.8457f, -1.2391f,
    9.8066f, 6.5018f, -0.8912f, 11.3028f, 7.5123f, 1.8363f,
    15.1309f, 10.4212f, 6.7283f, 18.5925f, 12.6561f, 9.8296f,
    14.0118f, 12.6704f, 9.5578f, 12.2767f, 9.3379f, 5.5735f,
    6.5581f, 3.6342f, 1.9034f, 6.1638f, -1.8555f, -0.2662f,
    9.4976f, -4.279f, 0.6997f, 8.6731f, -3.2549f, 0.686f,
    11.1154f, 0.3388f, -2.0523f, 5.6913f, 4.1835f, -6.898f,
    3.4277f, 5.8459f, -9.9218f, 4.2199f, 4.3159f, -9.2394f,
    4.4176f, 1.2534f, -5.5157f, 12.3231f, -1.4113f, -1.6575f,
    13.3765f, -2.451f, 0.2659f, 14.0112f, -1.3483f, 0.0709f,
    12.6975f, 0.8813f, -0.1349f,
};

static const float k_case67_features[21] = {
    3.58008291f, 9.92063492f, 2.98928664f, 0.00202498494f, 0.00194495228f, 0.00247976698f,
    0.162062566f, 4.038265f, 8.43253968f, 3.75272973f, 0.000858848248f, 0.0178740745f,
    0.0493836604f, 0.151294068f, 4.51862004f, 3.47222222f, 4.73800005f, 0.000428583939f,
    0.000386475984f, 0.00100001987f, 0.521348645f,
};

static const double k_case67_edges[5] = {0.1, 0.5, 1.0, 2.0, 5.0};
static void k_case67_params(edgert_spectral_params *p)
{
    memset(p, 0, sizeof *p);
    p->version = 1;
    p->sampling_freq = 62.5f;
    p->scale_axes = 1.0f;
    p->decimation_ratio = 1;
    p->filter_type = EDGERT_FILTER_HIGH;
    p->filter_cutoff = 3.0f;
    p->filter_order = 2;
    p->fft_length = 128;
    p->peaks_count = 1;
    p->peaks_threshold = 0.1f;
    p->n_power_edges = 5;
    memcpy(p->power_edges, k_case67_edges, sizeof k_case67_edges);
}


/* Runs every axis of an interleaved window through edgert__v1_axis and compares with the
 * reference at |a-b| <= 1e-4 max(1, |b|). */
static void check_case(const edgert_spectral_params *p, const float *raw, int32_t n_axes,
                       int32_t n, const float *expected, int32_t n_expected)
{
    static float x[1024], scratch[4096], out[64];
    const int32_t per_axis = edgert__v1_features_per_axis(p);
    int32_t a, i;
    CHECK_EQ_INT(per_axis * n_axes, n_expected);
    CHECK(edgert__v1_scratch_floats(p, n) <= sizeof scratch / sizeof scratch[0]);
    if (per_axis * n_axes != n_expected || n > 1024 || per_axis > 64) return;
    for (a = 0; a < n_axes; a++) {
        for (i = 0; i < n; i++) x[i] = raw[i * n_axes + a];
        CHECK_EQ_INT(edgert__v1_axis(p, x, n, out, scratch), EDGERT_OK);
        for (i = 0; i < per_axis; i++) {
            const double b = expected[a * per_axis + i];
            CHECK_NEAR(out[i], b, 1e-4 * (fabs(b) > 1.0 ? fabs(b) : 1.0));
        }
    }
}

static void test_reference_cases(void)
{
    edgert_spectral_params p;
    k_case63_params(&p);
    check_case(&p, k_case63_raw, 3, 125, k_case63_features, 42);
    k_case64_params(&p);
    check_case(&p, k_case64_raw, 3, 125, k_case64_features, 21);
    k_case67_params(&p);
    check_case(&p, k_case67_raw, 3, 125, k_case67_features, 21);
}

/* 3 + 2 cos(2 pi 5 t) + 0.5 cos(2 pi 12 t) at 64 Hz, 64 samples, N = 64: exact bins 5, 12. */
static void test_two_tones(void)
{
    static const double edges[4] = {0.0, 4.0, 6.0, 32.0};
    float x[64], scratch[1024], out[1 + 2 * 3 + 3];
    edgert_spectral_params p;
    int32_t i;
    memset(&p, 0, sizeof p);
    p.version = 1;
    p.sampling_freq = 64.0f;
    p.scale_axes = 0.5f;           /* raw amplitudes doubled below */
    p.decimation_ratio = 1;
    p.filter_type = EDGERT_FILTER_NONE;
    p.fft_length = 64;
    p.peaks_count = 3;
    p.peaks_threshold = 0.1f;
    p.n_power_edges = 4;
    memcpy(p.power_edges, edges, sizeof edges);
    for (i = 0; i < 64; i++) {
        x[i] = (float)(6.0 + 4.0 * cos(2.0 * PI * 5.0 * i / 64.0) +
                       1.0 * cos(2.0 * PI * 12.0 * i / 64.0));
    }
    CHECK_EQ_INT(edgert__v1_features_per_axis(&p), 10);
    CHECK(edgert__v1_scratch_floats(&p, 64) <= sizeof scratch / sizeof scratch[0]);
    CHECK_EQ_INT(edgert__v1_axis(&p, x, 64, out, scratch), EDGERT_OK);
    CHECK_NEAR(out[0], sqrt(2.0 * 2.0 / 2.0 + 0.5 * 0.5 / 2.0), 1e-5);   /* RMS */
    CHECK_NEAR(out[1], 5.0 * 32.0 / 31.0, 1e-5);   /* linspace(0, fs/2, N/2) quirk */
    CHECK_NEAR(out[2], 2.0, 1e-5);
    CHECK_NEAR(out[3], 12.0 * 32.0 / 31.0, 1e-5);
    CHECK_NEAR(out[4], 0.5, 1e-5);
    CHECK_NEAR(out[5], 0.0, 0.0);                  /* padding */
    CHECK_NEAR(out[6], 0.0, 0.0);
    /* periodogram: P_k = 2 |X_k|^2 / (fs n) -> 2 at bin 5, 0.125 at bin 12; f_k = k Hz */
    CHECK_NEAR(out[7], 0.0, 1e-9);                 /* [0, 4): bins 0..3 */
    CHECK_NEAR(out[8], (0.0 + 2.0) / 2.0 / 10.0, 1e-6);          /* [4, 6): bins 4, 5 */
    CHECK_NEAR(out[9], 0.125 / 26.0 / 10.0, 1e-7);               /* [6, 32): 26 bins */
    /* threshold above the smaller tone: one peak, then padding */
    p.peaks_threshold = 0.6f;
    CHECK_EQ_INT(edgert__v1_axis(&p, x, 64, out, scratch), EDGERT_OK);
    CHECK_NEAR(out[2], 2.0, 1e-5);
    CHECK_NEAR(out[3], 0.0, 0.0);
    CHECK_NEAR(out[4], 0.0, 0.0);
}

static int32_t peaks(const float *y, int32_t m, float *idx)
{
    float dy[16];
    return edgert__v1_peak_indexes(y, m, dy, idx);
}

static void test_peak_finder(void)
{
    float idx[16];
    {   /* odd plateau: its middle */
        const float y[5] = {0, 1, 1, 1, 0};
        CHECK_EQ_INT(peaks(y, 5, idx), 1);
        CHECK_NEAR(idx[0], 2, 0);
    }
    {   /* even plateau: the left one of the two middle samples */
        const float y[6] = {0, 1, 1, 1, 1, 0};
        CHECK_EQ_INT(peaks(y, 6, idx), 1);
        CHECK_NEAR(idx[0], 2, 0);
    }
    {   /* plateau at the start takes the first slope after it; at the end the last before */
        const float y[6] = {1, 1, 2, 0, 3, 3};
        CHECK_EQ_INT(peaks(y, 6, idx), 1);
        CHECK_NEAR(idx[0], 2, 0);
    }
    {   /* ends never count; values must exceed the global minimum */
        const float y[7] = {5, 0, 3, 0, 4, 1, 6};
        CHECK_EQ_INT(peaks(y, 7, idx), 2);
        CHECK_NEAR(idx[0], 2, 0);
        CHECK_NEAR(idx[1], 4, 0);
    }
    {   /* a plateau between a rise and a further rise is no peak */
        const float y[6] = {0, 1, 1, 2, 1, 0};
        CHECK_EQ_INT(peaks(y, 6, idx), 1);
        CHECK_NEAR(idx[0], 3, 0);
    }
    {   /* totally flat and too short: none */
        const float y[4] = {2, 2, 2, 2};
        CHECK_EQ_INT(peaks(y, 4, idx), 0);
        CHECK_EQ_INT(peaks(y, 2, idx), 0);
    }
}

static void test_errors(void)
{
    edgert_spectral_params p;
    float x[125], scratch[2048], out[64];
    memcpy(x, k_case64_raw, sizeof x);
    k_case64_params(&p);
    CHECK_EQ_INT(edgert__v1_axis(NULL, x, 125, out, scratch), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert__v1_axis(&p, x, 125, NULL, scratch), EDGERT_ERR_NULL);
    CHECK_EQ_INT(edgert__v1_axis(&p, x, 0, out, scratch), EDGERT_ERR_ARG);
    p.fft_length = 24;
    CHECK_EQ_INT(edgert__v1_axis(&p, x, 125, out, scratch), EDGERT_ERR_PARAM);
    k_case64_params(&p);
    p.filter_order = 10;
    CHECK_EQ_INT(edgert__v1_axis(&p, x, 125, out, scratch), EDGERT_ERR_PARAM);
    k_case64_params(&p);
    p.peaks_count = -1;
    CHECK_EQ_INT(edgert__v1_features_per_axis(&p), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert__v1_axis(&p, x, 125, out, scratch), EDGERT_ERR_PARAM);
    k_case64_params(&p);
    p.n_power_edges = EDGERT_SPECTRAL_MAX_EDGES + 1;
    CHECK_EQ_INT(edgert__v1_features_per_axis(&p), EDGERT_ERR_PARAM);
    CHECK_EQ_INT(edgert__v1_features_per_axis(NULL), EDGERT_ERR_NULL);
    k_case64_params(&p);
    p.n_power_edges = 1;  /* one edge: no band */
    CHECK_EQ_INT(edgert__v1_features_per_axis(&p), 1 + 2);
    CHECK_EQ_INT(edgert__v1_axis(&p, x, 125, out, scratch), EDGERT_OK);
    k_case64_params(&p);
    x[7] = INFINITY;
    CHECK_EQ_INT(edgert__v1_axis(&p, x, 125, out, scratch), EDGERT_ERR_NONFINITE);
}

int main(void)
{
    test_reference_cases();
    test_two_tones();
    test_peak_finder();
    test_errors();
    CTEST_END();
}
