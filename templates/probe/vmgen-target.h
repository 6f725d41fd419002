/* Read by vmgen with -include: the target compiler's integer widths. */
enum __vmgen_target {
    __vmgen_char_bit = __CHAR_BIT__,
#ifdef __CHAR_UNSIGNED__
    __vmgen_char_signed = 0,
#else
    __vmgen_char_signed = 1,
#endif
    __vmgen_sizeof_short = __SIZEOF_SHORT__,
    __vmgen_sizeof_int = __SIZEOF_INT__,
    __vmgen_sizeof_long = __SIZEOF_LONG__,
    __vmgen_sizeof_long_long = __SIZEOF_LONG_LONG__
};

/* Compiler built-in types that system headers name and pycparser does not
 * know; vmgen never migrates them, it only needs the declarations to parse. */
typedef int __builtin_va_list;
typedef long double _Float128;
typedef long double _Float64x;
typedef long double __float128;
typedef long double __float80;
typedef double _Float64;
typedef double _Float32x;
typedef float _Float32;
typedef float _Float16;
typedef float __bf16;
