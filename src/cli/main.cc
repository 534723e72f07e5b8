#include <cstdio>
int main() { std::puts("kpipe " KPIPE_VERSION); return 0; }
