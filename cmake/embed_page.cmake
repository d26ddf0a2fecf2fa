# cmake -DIN=page.html -DOUT=page.cpp -DNAME=fn -DNS=porthole::inspect -P embed_page.cmake
# Turns a text file into a C++ function returning it (a raw string literal, split in pieces
# under 16 KiB because compilers cap the length of one literal).
file(READ "${IN}" content)
string(LENGTH "${content}" len)
set(pieces "")
set(pos 0)
while(pos LESS len)
  string(SUBSTRING "${content}" ${pos} 12000 piece)
  string(APPEND pieces "R\"PORTHOLE_EMBED(${piece})PORTHOLE_EMBED\"\n")
  math(EXPR pos "${pos} + 12000")
endwhile()
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by cmake/embed_page.cmake: do not edit.\n#include <string_view>\nnamespace ${NS} {\nstd::string_view ${NAME}() {\n  static constexpr char kText[] =\n${pieces};\n  return {kText, sizeof(kText) - 1};\n}\n}  // namespace ${NS}\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
