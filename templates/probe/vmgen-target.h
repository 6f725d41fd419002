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
